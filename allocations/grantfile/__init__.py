"""Reading and checking a grant file (`stimulans-grant/1`). Plain Python, no Django.

`parse()` turns the bytes of a file into a checked dict, or raises
`GrantFileError` listing every problem with its JSON path, e.g.
``pots[2].model.factors[0].dataset: unknown dataset 'bef-2018'``. Nothing is
written anywhere: storing a checked file is the Django layer's job.
`to_model()` turns one pot's model into the engine's terms; the admin uses
`check_model()` so that a pot edited by hand meets the same rules as a file.
"""

from __future__ import annotations

import json
from decimal import Decimal

from .. import engine
from .base import (  # noqa: F401
    APPLICATION_STATUSES,
    DECIMAL,
    FORMAT,
    ISO_DATE,
    MAX_BYTES,
    MAX_ERRORS,
    MAX_KRONOR,
    ORG_KINDS,
    ORG_NUMBER,
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
from .checking import Checker, describe_type  # noqa: F401


def _no_duplicate_keys(pairs):
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key '{key}' appears twice in one object")
        out[key] = value
    return out


def load(raw: bytes | str) -> object:
    """Parse JSON strictly: no duplicate keys, no NaN, numbers with fractions kept apart."""
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > MAX_BYTES:
        raise GrantFileError(
            [("", f"the file is {len(raw)} bytes; a grant file may be at most {MAX_BYTES} bytes")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GrantFileError(
            [("", f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})")]
        ) from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicate_keys,
            parse_float=FloatText,
            parse_constant=_refuse_constant,
        )
    except json.JSONDecodeError as exc:
        raise GrantFileError(
            [("", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")]
        ) from None
    except RecursionError:
        raise GrantFileError([("", "not valid JSON: nested too deeply")]) from None
    except ValueError as exc:
        raise GrantFileError([("", f"not valid JSON: {exc}")]) from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def parse(raw: bytes | str) -> dict:
    """Read and check a whole grant file; return its data or raise GrantFileError."""
    data = load(raw)
    checker = Checker()
    checker.grant_file(data)
    checker.raise_if_any()
    return data


def check(data: object) -> dict:
    """Check already-parsed grant file data (e.g. built in code)."""
    checker = Checker()
    checker.grant_file(data)
    checker.raise_if_any()
    return data


def check_model(model: object, context: Context, path: str = "model") -> list[tuple[str, str]]:
    """The problems with one pot's model, as (path, problem) pairs; empty when fine."""
    checker = Checker()
    checker.ctx = context
    checker.model(model, path)
    return checker.errors


def to_model(data: dict) -> engine.Model:
    """A checked model dict (as in the file) in the engine's terms."""
    kind = data["type"]
    if kind == "fixed":
        return engine.Fixed(tuple((org, int(a)) for org, a in data["amounts"].items()))
    if kind == "equal":
        return engine.Equal(tuple(data["recipients"]))
    if kind == "remainder":
        return engine.Remainder(data["recipient"])
    if kind == "key":
        factors = tuple(engine.Factor(f["dataset"], Decimal(f["weight"])) for f in data["factors"])
        recipients = data.get("recipients")
        return engine.Key(factors, tuple(recipients) if recipients is not None else None)
    if kind == "per_unit":
        max_rate = data.get("max_rate")
        return engine.PerUnit(
            measure=data["measure"],
            eligible=_rule(data.get("eligible")),
            applicants_only=data.get("applicants_only", True),
            max_rate=Decimal(max_rate) if max_rate is not None else None,
        )
    if kind == "tiered":
        tiers = tuple(
            engine.Tier(t["unit_type"], t["measure"], t["min"], t.get("max"), t["amount"])
            for t in data["tiers"]
        )
        return engine.Tiered(
            tiers=tiers,
            eligible=_rule(data.get("eligible")),
            applicants_only=data.get("applicants_only", True),
            overflow=data.get("overflow", "error"),
        )
    if kind == "approved_amounts":
        return engine.ApprovedAmounts()
    raise ValueError(f"unknown model type {kind!r}")


def _rule(data: dict | None) -> engine.Rule:
    if not data:
        return engine.Rule()

    def cond(c: dict) -> engine.Condition:
        value = c["value"]
        if c["field"] == "city_placed_share":
            value = Decimal(value)
        return engine.Condition(c["field"], c["op"], value, tuple(c.get("unit_types", ())))

    return engine.Rule(
        unit_types=tuple(data.get("unit_types", ())),
        all=tuple(cond(c) for c in data.get("all", ())),
        any=tuple(cond(c) for c in data.get("any", ())),
    )


def grant_input(data: dict) -> engine.GrantInput:
    """A checked grant file in the engine's terms."""

    def pot(p: dict) -> engine.Pot:
        return engine.Pot(
            id=p["id"],
            name=p["name"],
            amount=p["amount"],
            model=to_model(p["model"]) if "model" in p else None,
            children=tuple(pot(c) for c in p.get("children", ())),
        )

    units = {
        u["id"]: engine.Unit(
            id=u["id"],
            organisation=u["organisation"],
            type=u["type"],
            places=u.get("places"),
            customers=u.get("customers"),
            in_city=u["in_city"],
            city_placed_share=Decimal(u["city_placed_share"]),
            name=u["name"],
        )
        for u in data.get("units", ())
    }
    applications = tuple(
        engine.Application(
            id=a["id"],
            pot=a["pot"],
            organisation=a["organisation"],
            units=tuple(a.get("units", ())),
            status=a["status"],
            granted_amount=a.get("granted_amount"),
        )
        for a in data.get("applications", ())
    )
    return engine.GrantInput(
        amount=data["grant"]["amount"],
        pots=tuple(pot(p) for p in data["pots"]),
        units=units,
        datasets={d["id"]: dict(d["values"]) for d in data.get("datasets", ())},
        applications=applications,
    )
