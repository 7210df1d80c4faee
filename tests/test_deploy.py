"""The production shape: requirements, deploy/ (environment, systemd units, compose file,
Dockerfile), system packages, and `check --deploy` under the documented environment."""

import ast
import configparser
import os
import re
import shlex
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from .conftest import ROOT

DEPLOY = ROOT / "deploy"
PRODUCT = ("allocations", "applications", "reporting", "stimulans")
DEV_ONLY = {
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "hypothesis",
    "ruff",
    "import-linter",
    "pypdf",
    "page-validation",
    "playwright",
    "jsonschema",
    "rfc3339-validator",
    "pyyaml",
}
# Where the systemd units put things, and where that is in this checkout.
INSTALL_DIR = "/opt/stimulans"
ENV_FILE = "/etc/stimulans/stimulans.env"
UNITS = ("stimulans-web", "stimulans-worker", "stimulans-beat")
THROWAWAY_DATABASE = "postgres://stimulans:throwaway@127.0.0.1:9/stimulans_throwaway"


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(path: Path) -> dict[str, str]:
    """Distribution name -> the line pinning it (`-r` lines left out)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line and not line.startswith("-r"):
            found[normalise(re.split(r"[\[=<>~!]", line)[0])] = line
    return found


def production_env() -> dict[str, str]:
    """deploy/production.env read as systemd and compose read it: KEY=value lines."""
    env = {}
    for number, line in enumerate((DEPLOY / "production.env").read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition("=")
        assert sep, f"line {number}: {line!r}"
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), f"line {number}: {line!r}"
        assert not value.startswith(("'", '"')), f"line {number}: no quotes, please"
        assert key not in env, f"{key} twice"
        env[key] = value
    return env


def production_process_env(**extra) -> dict[str, str]:
    """Exactly production.env's variables (and the extras), as a server would run."""
    return {"PATH": os.environ["PATH"], **production_env(), **extra}


# ---------------------------------------------------------------- requirements


def imported_modules() -> set[str]:
    """Top-level modules the product's own code imports, or names in settings as strings."""
    modules = set()
    for package in PRODUCT:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import):
                    modules.update(alias.name.split(".")[0] for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
    from django.conf import settings

    dotted = [*settings.INSTALLED_APPS, *settings.MIDDLEWARE]
    dotted += [s["BACKEND"] for s in settings.STORAGES.values()]
    modules.update(name.split(".")[0] for name in dotted)
    return {m for m in modules if m not in sys.stdlib_module_names and m not in PRODUCT}


def test_runtime_and_tooling_requirements_are_apart_and_pinned():
    runtime = requirements(ROOT / "requirements.txt")
    dev_text = (ROOT / "requirements-dev.txt").read_text()
    dev = requirements(ROOT / "requirements-dev.txt")
    first = next(line for line in dev_text.splitlines() if line and not line.startswith("#"))
    assert first == "-r requirements.txt"
    for line in [*runtime.values(), *dev.values()]:
        assert re.fullmatch(r"[A-Za-z0-9_.\-\[\]]+==[0-9][0-9A-Za-z.]*", line), line
    assert not DEV_ONLY & set(runtime), "tooling in requirements.txt"
    assert set(dev) == DEV_ONLY
    assert {"gunicorn", "whitenoise", "celery", "django", "psycopg2-binary"} <= set(runtime)


def test_the_product_imports_only_what_requirements_txt_installs():
    runtime = set(requirements(ROOT / "requirements.txt"))
    distributions = packages_distributions()
    for module in sorted(imported_modules()):
        names = {normalise(d) for d in distributions.get(module, [])}
        assert names, f"{module} comes from no installed distribution"
        assert names & runtime, f"{module} ({', '.join(names)}) is not in requirements.txt"
        assert not names & DEV_ONLY, f"the product imports the tool {module}"


def test_running_installs_the_runtime_file_and_tooling_the_dev_file():
    makefile = (ROOT / "Makefile").read_text()
    assert "scripts/bootstrap.sh\n" in (ROOT / "scripts/run.sh").read_text()
    for script in ("scripts/test.sh", "scripts/bench.sh", ".ci/run"):
        assert "scripts/bootstrap.sh dev\n" in (ROOT / script).read_text(), script
    assert re.search(r"^lint:\n\tscripts/bootstrap\.sh dev\n", makefile, re.MULTILINE)
    refused = subprocess.run(
        ["bash", "scripts/bootstrap.sh", "everything"], cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert "unknown set 'everything'" in refused.stderr


# ---------------------------------------------------------------- production.env


def test_the_example_environment_holds_no_real_secret():
    env = production_env()
    assert env["DEBUG"] == "0"
    assert env["SECRET_KEY"].startswith("CHANGE-ME")
    assert env["EMAIL_HOST_PASSWORD"].startswith("CHANGE-ME")
    assert urlsplit(env["DATABASE_URL"]).password.startswith("CHANGE-ME")


def test_readme_documents_every_variable_of_the_example():
    readme = (ROOT / "README.md").read_text()
    missing = [key for key in production_env() if f"`{key}`" not in readme]
    assert not missing, f"README does not name {missing}"


def test_check_deploy_gives_no_warning_under_the_example_environment(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=production_process_env(DATABASE_URL=THROWAWAY_DATABASE),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_check_deploy_warns_without_the_https_switch():
    env = production_env()
    for key in list(env):
        if key.startswith("SECURE_HSTS") or key == "STIMULANS_HTTPS":
            del env[key]
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **env, "DATABASE_URL": THROWAWAY_DATABASE},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


# ---------------------------------------------------------------- systemd


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # systemd's keys are case-sensitive
    parser.read_string((DEPLOY / "systemd" / f"{name}.service").read_text())
    return parser


def local_command(exec_start: str) -> list[str]:
    """The unit's command with its install directory replaced by this checkout."""
    argv = shlex.split(exec_start)
    assert argv[0].startswith(f"{INSTALL_DIR}/.venv/bin/"), argv[0]
    local = ROOT / argv[0].removeprefix(f"{INSTALL_DIR}/")
    assert local.is_file(), f"{local} does not exist"
    assert os.access(local, os.X_OK), f"{local} is not executable"
    return [str(local), *argv[1:]]


@pytest.mark.parametrize("name", UNITS)
def test_systemd_units_run_installed_commands_with_the_documented_environment(name):
    env = production_env()
    service = unit(name)["Service"]
    assert service["User"] == "stimulans"
    assert service["WorkingDirectory"] == INSTALL_DIR
    assert service["EnvironmentFile"] == ENV_FILE
    assert service["ReadWritePaths"] == env["STIMULANS_DATA_DIR"]
    assert Path(env["MEDIA_ROOT"]).is_relative_to(env["STIMULANS_DATA_DIR"])
    assert Path(env["STATIC_ROOT"]).is_relative_to(INSTALL_DIR)
    assert unit(name)["Install"]["WantedBy"] == "multi-user.target"
    command = local_command(service["ExecStart"])
    assert Path(command[0]).name == ("gunicorn" if name == "stimulans-web" else "celery")
    for path in re.findall(r"=(/\S+)", service["ExecStart"]):
        assert Path(path).is_relative_to(env["STIMULANS_DATA_DIR"]), path


def test_the_web_unit_starts_gunicorn_on_the_product_under_the_example_environment(tmp_path):
    # gunicorn loads the application and checks its options, and stops there.
    command = local_command(unit("stimulans-web")["Service"]["ExecStart"])
    result = subprocess.run(
        [command[0], "--check-config", *command[1:]],
        cwd=ROOT,
        # STATIC_ROOT: a directory that exists here, so WhiteNoise has no warning to give.
        env=production_process_env(DATABASE_URL=THROWAWAY_DATABASE, STATIC_ROOT=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["stimulans-worker", "stimulans-beat"])
def test_the_celery_units_name_celery_commands_and_options_that_exist(name):
    command = local_command(unit(name)["Service"]["ExecStart"])
    # Click refuses an unknown option before it shows the help.
    result = subprocess.run(
        [*command, "--help"],
        cwd=ROOT,
        env=production_process_env(DATABASE_URL=THROWAWAY_DATABASE),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert command[1:4] == ["-A", "stimulans", name.removeprefix("stimulans-")]


# ---------------------------------------------------------------- compose and Dockerfile


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())


def test_compose_runs_web_worker_and_beat_from_one_image_and_environment():
    services = compose()["services"]
    assert set(services) == {"web", "worker", "beat", "postgres", "redis"}
    ours = [services[name] for name in ("web", "worker", "beat")]
    for service in ours:
        assert service["image"] == ours[0]["image"]
        assert service["build"] == ours[0]["build"]
        assert service["env_file"] == "production.env"
        assert service["volumes"] == [f"data:{production_env()['STIMULANS_DATA_DIR']}"]
        assert set(service["depends_on"]) == {"postgres", "redis"}
    build = ours[0]["build"]
    assert (DEPLOY / build["context"] / build["dockerfile"]).resolve() == DEPLOY / "Dockerfile"
    assert services["web"]["command"][:2] == ["gunicorn", "stimulans.wsgi:application"]
    assert services["worker"]["command"][:4] == ["celery", "-A", "stimulans", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "stimulans", "beat"]
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_compose_services_are_where_the_environment_says():
    services = compose()["services"]
    env = production_env()
    database = urlsplit(env["DATABASE_URL"])
    postgres = services["postgres"]["environment"]
    assert database.hostname == "postgres"
    assert database.username == postgres["POSTGRES_USER"]
    assert database.password == postgres["POSTGRES_PASSWORD"]
    assert database.path == f"/{postgres['POSTGRES_DB']}"
    for key in ("CELERY_BROKER_URL", "CACHE_URL"):
        assert urlsplit(env[key]).hostname == "redis", key


def test_the_image_installs_the_system_packages_and_only_the_runtime_requirements():
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "scripts/system-packages.sh" in dockerfile
    assert "-r requirements.txt" in dockerfile
    assert not re.search(r"^(COPY|RUN)\b.*requirements-dev", dockerfile, re.MULTILINE)
    assert "collectstatic" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".git", "var", "staticfiles", "**/*.env"} <= set(ignored)


# ---------------------------------------------------------------- system packages


def test_the_system_packages_weasyprint_needs_are_named_and_installed():
    listed = subprocess.run(
        ["scripts/system-packages.sh", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert {"libharfbuzz-subset0", "fonts-dejavu-core", "libpango-1.0-0"} <= set(listed)
    readme = (ROOT / "README.md").read_text()
    for package in listed:
        assert f"`{package}`" in readme, package
        status = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
        )
        assert status.stdout == "install ok installed", package
    for script in ("scripts/run.sh", "scripts/test.sh", "scripts/bench.sh"):
        assert "scripts/system-packages.sh\n" in (ROOT / script).read_text(), script
    ready = subprocess.run(["scripts/system-packages.sh"], cwd=ROOT, capture_output=True)
    assert ready.returncode == 0, ready.stderr
