"""Checking a grant file's data, every problem named with its JSON path."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .. import engine
from .base import (
    APPLICATION_STATUSES,
    DECIMAL,
    FORMAT,
    ISO_DATE,
    MAX_ERRORS,
    MAX_KRONOR,
    ORG_KINDS,
    OWNERSHIPS,
    SLUG,
    UNIT_BASED,
    Context,
    FloatText,
    GrantFileError,
    agreement_date_problems,
    fixed_total,
    luhn_ok,
)


def describe_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, FloatText):
        return f"the number {value}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Stop(Exception):
    """Too many errors: stop reading."""


class Checker:
    """Reads a grant file's data once, collecting every problem with its JSON path."""

    def __init__(self):
        self.errors: list[tuple[str, str]] = []
        self.ctx = Context()
        self.units: dict[str, dict] = {}
        self.pots: dict[str, dict] = {}
        self.leaf_models: dict[str, str] = {}
        self.pot_ids: dict[str, object] = {}  # a pot's id by its JSON path, for messages
        self.uses: set[str] = set()

    # -- plumbing

    def error(self, path: str, message: str) -> None:
        self.errors.append((path, message))
        if len(self.errors) >= MAX_ERRORS:
            raise _Stop

    def raise_if_any(self) -> None:
        if self.errors:
            raise GrantFileError(self.errors)

    def grant_file(self, data: object) -> None:
        try:
            self._grant_file(data)
        except _Stop:
            self.errors.append(("", f"stopped after {MAX_ERRORS} problems"))

    def obj(self, value, path, required=(), optional=()) -> bool:
        if not isinstance(value, dict):
            self.error(path, f"must be an object, not {describe_type(value)}")
            return False
        ok = True
        for key in required:
            if key not in value:
                self.error(path, f"missing required key '{key}'")
                ok = False
        for key in value:
            if key not in required and key not in optional:
                self.error(_join(path, key), "unknown key")
                ok = False
        return ok

    def array(self, value, path) -> list:
        if not isinstance(value, list):
            self.error(path, f"must be an array, not {describe_type(value)}")
            return []
        return value

    def string(self, value, path, allow_empty=False) -> bool:
        if not isinstance(value, str) or isinstance(value, FloatText):
            self.error(path, f"must be a string, not {describe_type(value)}")
            return False
        if not allow_empty and not value.strip():
            self.error(path, "must not be empty")
            return False
        return True

    def slug(self, value, path) -> bool:
        if not self.string(value, path):
            return False
        if not SLUG.match(value):
            self.error(path, f"'{value}' is not an id: use lower-case letters, digits and '-'")
            return False
        return True

    def integer(self, value, path, minimum=0, money=True) -> bool:
        if isinstance(value, bool) or not isinstance(value, int) or isinstance(value, FloatText):
            if isinstance(value, FloatText) and money:
                self.error(path, f"money is a whole number of kronor, not {value}")
            else:
                self.error(path, f"must be a whole number, not {describe_type(value)}")
            return False
        if value < minimum:
            self.error(path, f"must not be less than {minimum}, got {value}")
            return False
        if value > MAX_KRONOR:
            self.error(path, f"{value} is implausibly large")
            return False
        return True

    def boolean(self, value, path) -> bool:
        if not isinstance(value, bool):
            self.error(path, f"must be true or false, not {describe_type(value)}")
            return False
        return True

    def decimal(self, value, path, maximum=None) -> bool:
        if isinstance(value, FloatText) or (isinstance(value, int) and not isinstance(value, bool)):
            self.error(path, f'must be a decimal string such as "0.80", not the number {value}')
            return False
        if not isinstance(value, str) or not DECIMAL.match(value):
            self.error(path, f'must be a decimal string such as "0.80", not {describe_type(value)}')
            return False
        if maximum is not None and Decimal(value) > maximum:
            self.error(path, f"must be at most {maximum}, got {value}")
            return False
        return True

    def iso_date(self, value, path) -> bool:
        if not self.string(value, path):
            return False
        try:
            if not ISO_DATE.match(value):
                raise ValueError
            date.fromisoformat(value)
        except ValueError:
            self.error(path, f"'{value}' is not a date in the form YYYY-MM-DD")
            return False
        return True

    def choice(self, value, path, choices) -> bool:
        if not isinstance(value, str) or value not in choices:
            shown = value if isinstance(value, str) else describe_type(value)
            self.error(path, f"'{shown}' is not one of: {', '.join(choices)}")
            return False
        return True

    def organisation(self, value, path) -> bool:
        if not self.slug(value, path):
            return False
        if value not in self.ctx.organisations:
            self.error(path, f"unknown organisation '{value}'")
            return False
        return True

    def unique_ids(self, items, path, what) -> dict[str, dict]:
        seen: dict[str, dict] = {}
        for i, item in enumerate(items):
            ident = item.get("id") if isinstance(item, dict) else None
            if isinstance(ident, str) and ident in seen:
                self.error(f"{path}[{i}].id", f"duplicate {what} id '{ident}'")
            elif isinstance(ident, str):
                seen[ident] = item
        return seen

    # -- the file

    def _grant_file(self, data) -> None:
        if not isinstance(data, dict):
            self.error("", f"a grant file is a JSON object, not {describe_type(data)}")
            return
        if data.get("format") != FORMAT:
            shown = data.get("format")
            self.error(
                "format",
                f'must be "{FORMAT}"' + (f", not '{shown}'" if isinstance(shown, str) else ""),
            )
            return
        self.obj(
            data,
            "",
            ("format", "agreement", "grant", "organisations", "pots"),
            ("units", "datasets", "applications", "published", "illustrative"),
        )
        self.organisations(self.array(data.get("organisations", []), "organisations"))
        self.agreement(data.get("agreement"))
        self.grant(data.get("grant"))
        self.unit_list(self.array(data.get("units", []), "units"))
        self.dataset_list(self.array(data.get("datasets", []), "datasets"))
        grant_amount = (
            data.get("grant", {}).get("amount") if isinstance(data.get("grant"), dict) else None
        )
        pots = self.pot_list(self.array(data.get("pots", []), "pots"), "pots")
        self.budget(grant_amount if isinstance(grant_amount, int) else None, pots)
        self.application_list(self.array(data.get("applications", []), "applications"))
        if "published" in data:
            self.published(data["published"])
        if "illustrative" in data:
            value = data["illustrative"]
            if self.obj(value, "illustrative", (), tuple(value) if isinstance(value, dict) else ()):
                for key, flag in value.items():
                    self.boolean(flag, _join("illustrative", key))

    def organisations(self, items) -> None:
        self.unique_ids(items, "organisations", "organisation")
        for i, org in enumerate(items):
            path = f"organisations[{i}]"
            if not self.obj(org, path, ("id", "name", "kind", "ownership"), ("org_number",)):
                continue
            if self.slug(org["id"], f"{path}.id"):
                self.ctx.organisations.add(org["id"])
            self.string(org["name"], f"{path}.name")
            self.choice(org["kind"], f"{path}.kind", ORG_KINDS)
            self.choice(org["ownership"], f"{path}.ownership", OWNERSHIPS)
            number = org.get("org_number")
            path_n = f"{path}.org_number"
            if number is not None and self.string(number, path_n) and not luhn_ok(number):
                self.error(
                    path_n,
                    f"'{number}' is not a valid organisation number "
                    "(NNNNNN-NNNN with a correct check digit)",
                )

    def agreement(self, value) -> None:
        path = "agreement"
        optional = ("national_amount", "spend_by", "report_by", "repay_by", "repay_to")
        required = ("title", "year", "parties", "purpose", "permitted_uses")
        if not self.obj(value, path, required, optional):
            return
        self.string(value["title"], f"{path}.title")
        if (
            self.integer(value["year"], f"{path}.year", minimum=1900, money=False)
            and value["year"] > 2200
        ):
            self.error(f"{path}.year", f"{value['year']} is not a plausible year")
        for i, party in enumerate(self.array(value["parties"], f"{path}.parties")):
            self.string(party, f"{path}.parties[{i}]")
        self.string(value["purpose"], f"{path}.purpose")
        uses = self.array(value["permitted_uses"], f"{path}.permitted_uses")
        for i, use in enumerate(uses):
            upath = f"{path}.permitted_uses[{i}]"
            if self.obj(use, upath, ("code", "label")):
                if self.slug(use["code"], f"{upath}.code"):
                    if use["code"] in self.uses:
                        self.error(f"{upath}.code", f"duplicate permitted use '{use['code']}'")
                    self.uses.add(use["code"])
                self.string(use["label"], f"{upath}.label")
        if "national_amount" in value:
            self.integer(value["national_amount"], f"{path}.national_amount")
        dates = {}
        for key in ("spend_by", "report_by", "repay_by"):
            if key in value and self.iso_date(value[key], f"{path}.{key}"):
                dates[key] = date.fromisoformat(value[key])
        for earlier, later in agreement_date_problems(dates):
            self.error(
                f"{path}.{later}",
                f"{value[later]} is before {earlier} {value[earlier]}: money is reported and "
                "repaid after the time to spend it ends",
            )
        if "repay_to" in value:
            self.string(value["repay_to"], f"{path}.repay_to")

    def grant(self, value) -> None:
        path = "grant"
        required = (
            "id",
            "title",
            "received_from",
            "recipient",
            "administered_by",
            "amount",
            "decision_body",
        )
        optional = ("reference", "delegated_to", "source")
        if not self.obj(value, path, required, optional):
            return
        self.slug(value["id"], f"{path}.id")
        for key in ("title", "received_from", "recipient", "decision_body"):
            self.string(value[key], f"{path}.{key}")
        for key in ("reference", "delegated_to"):
            if key in value:
                self.string(value[key], f"{path}.{key}")
        self.organisation(value["administered_by"], f"{path}.administered_by")
        self.integer(value["amount"], f"{path}.amount")
        if "source" in value:
            source = value["source"]
            if self.obj(source, f"{path}.source", ("grant", "organisation")):
                self.slug(source["grant"], f"{path}.source.grant")
                self.slug(source["organisation"], f"{path}.source.organisation")
                if source["grant"] == value["id"]:
                    self.error(f"{path}.source.grant", "a grant cannot be its own source (a cycle)")

    def unit_list(self, items) -> None:
        self.units = self.unique_ids(items, "units", "unit")
        for i, unit in enumerate(items):
            path = f"units[{i}]"
            required = ("id", "organisation", "name", "type", "in_city", "city_placed_share")
            if not self.obj(unit, path, required, ("places", "customers")):
                continue
            self.slug(unit["id"], f"{path}.id")
            self.organisation(unit["organisation"], f"{path}.organisation")
            self.string(unit["name"], f"{path}.name")
            self.choice(unit["type"], f"{path}.type", engine.UNIT_TYPES)
            for key in engine.MEASURES:
                if key in unit:
                    self.integer(unit[key], f"{path}.{key}", money=False)
            self.boolean(unit["in_city"], f"{path}.in_city")
            self.decimal(unit["city_placed_share"], f"{path}.city_placed_share", maximum=Decimal(1))

    def dataset_list(self, items) -> None:
        self.unique_ids(items, "datasets", "dataset")
        for i, ds in enumerate(items):
            path = f"datasets[{i}]"
            required = ("id", "label", "source", "reference_date", "values")
            if not self.obj(ds, path, required, ("illustrative",)):
                continue
            self.slug(ds["id"], f"{path}.id")
            self.string(ds["label"], f"{path}.label")
            self.string(ds["source"], f"{path}.source")
            self.iso_date(ds["reference_date"], f"{path}.reference_date")
            if "illustrative" in ds:
                self.boolean(ds["illustrative"], f"{path}.illustrative")
            values = ds["values"]
            good = {}
            if self.obj(
                values, f"{path}.values", (), tuple(values) if isinstance(values, dict) else ()
            ):
                for org, n in values.items():
                    vpath = f"{path}.values.{org}"
                    if self.organisation(org, vpath) and self.integer(n, vpath, money=False):
                        good[org] = n
            if isinstance(ds["id"], str):
                self.ctx.datasets[ds["id"]] = good

    def pot_list(self, items, path) -> list[engine.BudgetPot]:
        """Each pot's own keys; the tree they make is the budget rule's (`budget`)."""
        pots = []
        for i, pot in enumerate(items):
            ppath = f"{path}[{i}]"
            if not self.obj(
                pot,
                ppath,
                ("id", "name", "amount"),
                ("children", "model", "description", "roadmap_needs"),
            ):
                continue
            if self.slug(pot["id"], f"{ppath}.id"):
                if pot["id"] in self.pots:
                    self.error(f"{ppath}.id", f"duplicate pot id '{pot['id']}'")
                self.pots[pot["id"]] = pot
            self.pot_ids[ppath] = pot["id"]
            self.string(pot["name"], f"{ppath}.name")
            if "description" in pot:
                self.string(pot["description"], f"{ppath}.description", allow_empty=True)
            if "roadmap_needs" in pot:
                for j, need in enumerate(
                    self.array(pot["roadmap_needs"], f"{ppath}.roadmap_needs")
                ):
                    self.string(need, f"{ppath}.roadmap_needs[{j}]")
            amount = pot["amount"]
            if amount != engine.REST and not self.integer(amount, f"{ppath}.amount"):
                amount = None
            has_children, has_model = "children" in pot, "model" in pot
            children = []
            # A pot with both or neither is the budget rule's to refuse; it is read no further.
            if has_children and not has_model:
                kids = self.array(pot["children"], f"{ppath}.children")
                if not kids:
                    self.error(f"{ppath}.children", "must not be empty")
                children = self.pot_list(kids, f"{ppath}.children")
            elif has_model and not has_children:
                self.model(pot["model"], f"{ppath}.model")
                if isinstance(pot.get("id"), str) and isinstance(pot["model"], dict):
                    self.leaf_models[pot["id"]] = pot["model"].get("type")
            pots.append(
                engine.BudgetPot(
                    key=ppath,
                    amount=amount,
                    has_model=has_model,
                    fixed_total=fixed_total(pot.get("model")),
                    children=tuple(children),
                    divided=has_children,
                )
            )
        return pots

    def budget(self, grant_amount, pots: list[engine.BudgetPot]) -> None:
        """The budget rule (`engine.check_budget`) over the file's pots, with JSON paths."""
        _amounts, problems = engine.check_budget(grant_amount, pots)
        for problem in problems:
            where = problem.pot
            parent = "grant" if where is None else self.pot_ids[where]
            if problem.code == "rests":
                for key in problem.rests[1:]:
                    self.error(
                        f"{key}.amount",
                        f'a second "rest" pot under {parent}: only one may take the rest',
                    )
            elif problem.code == "exceeds":
                self.error(
                    "pots" if where is None else f"{where}.children",
                    f"the pots' amounts ({problem.total} kr) exceed {parent}'s amount "
                    f"({problem.amount} kr) by {problem.over} kr",
                )
            elif problem.code == "fixed_exceeds":
                self.error(
                    f"{where}.model.amounts",
                    f"the amounts ({problem.total} kr) exceed the pot ({problem.amount} kr) "
                    f"by {problem.over} kr",
                )
            else:  # divided_with_model, no_model
                self.error(where, "a pot has either 'children' or a 'model', never both or neither")

    def model(self, value, path) -> None:
        if not isinstance(value, dict):
            self.error(path, f"must be an object, not {describe_type(value)}")
            return
        kind = value.get("type")
        if not self.choice(kind, f"{path}.type", engine.MODEL_TYPES):
            return
        spec = {
            "fixed": (("type", "amounts"), ()),
            "equal": (("type", "recipients"), ()),
            "remainder": (("type", "recipient"), ()),
            "key": (("type", "factors"), ("recipients",)),
            "per_unit": (("type", "measure"), ("eligible", "applicants_only", "max_rate")),
            "tiered": (("type", "tiers"), ("eligible", "applicants_only", "overflow")),
            "approved_amounts": (("type",), ()),
        }[kind]
        if not self.obj(value, path, *spec):
            return
        getattr(self, f"model_{kind}")(value, path)

    def model_fixed(self, value, path) -> None:
        # Whether the amounts fit in the pot is the budget rule's (`budget`).
        amounts = value["amounts"]
        if not self.obj(
            amounts, f"{path}.amounts", (), tuple(amounts) if isinstance(amounts, dict) else ()
        ):
            return
        for org, n in amounts.items():
            if self.organisation(org, f"{path}.amounts.{org}"):
                self.integer(n, f"{path}.amounts.{org}")

    def recipients(self, value, path) -> None:
        items = self.array(value, path)
        if not items:
            self.error(path, "must name at least one recipient")
        seen = set()
        for i, org in enumerate(items):
            if self.organisation(org, f"{path}[{i}]"):
                if org in seen:
                    self.error(f"{path}[{i}]", f"'{org}' is named twice")
                seen.add(org)

    def model_equal(self, value, path) -> None:
        self.recipients(value["recipients"], f"{path}.recipients")

    def model_remainder(self, value, path) -> None:
        self.organisation(value["recipient"], f"{path}.recipient")

    def model_key(self, value, path) -> None:
        factors = self.array(value["factors"], f"{path}.factors")
        if not factors:
            self.error(f"{path}.factors", "must have at least one factor")
        if "recipients" in value:
            self.recipients(value["recipients"], f"{path}.recipients")
        weight_sum = Decimal(0)
        usable = []
        for i, factor in enumerate(factors):
            fpath = f"{path}.factors[{i}]"
            if not self.obj(factor, fpath, ("dataset", "weight")):
                continue
            if self.slug(factor["dataset"], f"{fpath}.dataset"):
                if factor["dataset"] not in self.ctx.datasets:
                    self.error(f"{fpath}.dataset", f"unknown dataset '{factor['dataset']}'")
                else:
                    usable.append(factor)
            if self.decimal(factor["weight"], f"{fpath}.weight"):
                weight_sum += Decimal(factor["weight"])
        if factors and weight_sum == 0 and len(usable) == len(factors):
            self.error(f"{path}.factors", "the weights sum to zero")
        if usable and len(usable) == len(factors) and weight_sum > 0:
            recipients = value.get("recipients")
            if recipients is None:
                recipients = list(self.ctx.datasets[factors[0]["dataset"]])
            if isinstance(recipients, list):
                for i, factor in enumerate(factors):
                    values = self.ctx.datasets[factor["dataset"]]
                    if sum(values.get(o, 0) for o in recipients if isinstance(o, str)) == 0:
                        self.error(
                            f"{path}.factors[{i}].dataset",
                            f"dataset '{factor['dataset']}' sums to 0 over the recipients",
                        )

    def rule(self, value, path) -> None:
        if not self.obj(value, path, (), ("unit_types", "all", "any")):
            return
        if "unit_types" in value:
            for i, t in enumerate(self.array(value["unit_types"], f"{path}.unit_types")):
                self.choice(t, f"{path}.unit_types[{i}]", engine.UNIT_TYPES)
        for part in ("all", "any"):
            for i, cond in enumerate(self.array(value.get(part, []), f"{path}.{part}")):
                self.condition(cond, f"{path}.{part}[{i}]")

    def condition(self, cond, path) -> None:
        if not self.obj(cond, path, ("field", "op", "value"), ("unit_types",)):
            return
        ok_field = self.choice(cond["field"], f"{path}.field", engine.UNIT_FIELDS)
        ok_op = self.choice(cond["op"], f"{path}.op", engine.OPERATORS)
        if "unit_types" in cond:
            for i, t in enumerate(self.array(cond["unit_types"], f"{path}.unit_types")):
                self.choice(t, f"{path}.unit_types[{i}]", engine.UNIT_TYPES)
        if not ok_field:
            return
        field_name, value, vpath = cond["field"], cond["value"], f"{path}.value"
        ordered = cond["op"] in ("gte", "gt", "lte", "lt")
        if field_name in engine.MEASURES:
            self.integer(value, vpath, money=False)
        elif field_name == "city_placed_share":
            self.decimal(value, vpath, maximum=Decimal(1))
        elif field_name == "in_city":
            self.boolean(value, vpath)
            if ordered and ok_op:
                self.error(f"{path}.op", "a yes/no field can only be compared with eq or ne")
        elif field_name == "type":
            self.choice(value, vpath, engine.UNIT_TYPES)
            if ordered and ok_op:
                self.error(f"{path}.op", "a unit type can only be compared with eq or ne")

    def model_per_unit(self, value, path) -> None:
        self.choice(value["measure"], f"{path}.measure", engine.MEASURES)
        if "eligible" in value:
            self.rule(value["eligible"], f"{path}.eligible")
        if "applicants_only" in value:
            self.boolean(value["applicants_only"], f"{path}.applicants_only")
        if "max_rate" in value:
            self.decimal(value["max_rate"], f"{path}.max_rate")

    def model_tiered(self, value, path) -> None:
        tiers = self.array(value["tiers"], f"{path}.tiers")
        if not tiers:
            self.error(f"{path}.tiers", "must have at least one tier")
        good = []
        for i, tier in enumerate(tiers):
            tpath = f"{path}.tiers[{i}]"
            if not self.obj(tier, tpath, ("unit_type", "measure", "min", "max", "amount")):
                continue
            ok = self.choice(tier["unit_type"], f"{tpath}.unit_type", engine.UNIT_TYPES)
            ok &= self.choice(tier["measure"], f"{tpath}.measure", engine.MEASURES)
            ok &= self.integer(tier["min"], f"{tpath}.min", money=False)
            if tier["max"] is not None:
                ok &= self.integer(tier["max"], f"{tpath}.max", money=False)
                if ok and tier["max"] < tier["min"]:
                    self.error(f"{tpath}.max", f"is below min ({tier['min']})")
                    ok = False
            ok &= self.integer(tier["amount"], f"{tpath}.amount")
            if ok:
                good.append((i, tier))
        # Two tiers of one unit type must not both claim a volume.
        for a, (i, t) in enumerate(good):
            for j, u in good[a + 1 :]:
                if t["unit_type"] != u["unit_type"]:
                    continue
                # An open upper bound (max null) reaches every volume above min.
                u_reaches_t = u["max"] is None or t["min"] <= u["max"]
                t_reaches_u = t["max"] is None or u["min"] <= t["max"]
                if t["measure"] == u["measure"] and u_reaches_t and t_reaches_u:
                    self.error(f"{path}.tiers[{j}]", f"overlaps tier {i} for {t['unit_type']}")
        if "eligible" in value:
            self.rule(value["eligible"], f"{path}.eligible")
        if "applicants_only" in value:
            self.boolean(value["applicants_only"], f"{path}.applicants_only")
        if "overflow" in value:
            self.choice(value["overflow"], f"{path}.overflow", ("error", "scale"))

    def model_approved_amounts(self, value, path) -> None:
        pass

    def application_list(self, items) -> None:
        self.unique_ids(items, "applications", "application")
        used_units: dict[tuple[str, str], str] = {}
        for i, app in enumerate(items):
            path = f"applications[{i}]"
            required = ("id", "pot", "organisation", "status")
            optional = ("units", "uses", "intended_use", "requested_amount", "granted_amount")
            if not self.obj(app, path, required, optional):
                continue
            self.slug(app["id"], f"{path}.id")
            pot_ok = self.slug(app["pot"], f"{path}.pot")
            kind = None
            if pot_ok:
                if app["pot"] not in self.pots:
                    self.error(f"{path}.pot", f"unknown pot '{app['pot']}'")
                    pot_ok = False
                elif app["pot"] not in self.leaf_models:
                    self.error(
                        f"{path}.pot",
                        f"pot '{app['pot']}' is divided into other pots; apply to one of them",
                    )
                    pot_ok = False
                else:
                    kind = self.leaf_models[app["pot"]]
            org_ok = self.organisation(app["organisation"], f"{path}.organisation")
            self.choice(app["status"], f"{path}.status", APPLICATION_STATUSES)
            for j, unit_id in enumerate(self.array(app.get("units", []), f"{path}.units")):
                upath = f"{path}.units[{j}]"
                if not self.slug(unit_id, upath):
                    continue
                unit = self.units.get(unit_id)
                if unit is None:
                    self.error(upath, f"unknown unit '{unit_id}'")
                elif org_ok and unit.get("organisation") != app["organisation"]:
                    self.error(
                        upath,
                        f"unit '{unit_id}' belongs to '{unit.get('organisation')}', "
                        f"not to '{app['organisation']}'",
                    )
                elif pot_ok and app["status"] == "approved":
                    other = used_units.get((app["pot"], unit_id))
                    if other:
                        self.error(
                            upath,
                            f"unit '{unit_id}' is already in approved application '{other}' "
                            "to this pot",
                        )
                    used_units[(app["pot"], unit_id)] = app["id"]
            if kind in UNIT_BASED and not app.get("units"):
                self.error(
                    f"{path}.units", "an application to a unit-based pot must name its units"
                )
            for j, code in enumerate(self.array(app.get("uses", []), f"{path}.uses")):
                if self.slug(code, f"{path}.uses[{j}]") and code not in self.uses:
                    self.error(f"{path}.uses[{j}]", f"unknown permitted use '{code}'")
            if "intended_use" in app:
                self.string(app["intended_use"], f"{path}.intended_use", allow_empty=True)
            for key in ("requested_amount", "granted_amount"):
                if key in app:
                    self.integer(app[key], f"{path}.{key}")
            if (
                kind == "approved_amounts"
                and app["status"] == "approved"
                and "granted_amount" not in app
            ):
                self.error(
                    path, "an approved application to an application pot needs a granted_amount"
                )

    def published(self, value) -> None:
        if not self.obj(value, "published", ("pot", "amounts")):
            return
        if self.slug(value["pot"], "published.pot") and value["pot"] not in self.pots:
            self.error("published.pot", f"unknown pot '{value['pot']}'")
        amounts = value["amounts"]
        if self.obj(
            amounts, "published.amounts", (), tuple(amounts) if isinstance(amounts, dict) else ()
        ):
            for org, n in amounts.items():
                if self.organisation(org, f"published.amounts.{org}"):
                    self.integer(n, f"published.amounts.{org}")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key
