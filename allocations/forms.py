"""Admin forms for the grant ledger: what the grant file refuses, the admin refuses too.

A pot edited by hand meets the rules of a pot in a file. Its model is checked with
`grantfile.check_model` against the grant's organisations and datasets, and the budget tree
it ends up in is checked as a whole (`budget_problems`): a rest pot resolves against its
siblings, so one changed amount can break a branch elsewhere in the tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from . import engine, grantfile
from .formerrors import GroupedNumbers
from .models import Dataset, Grant, GrantOrganisation, GrantUnit, Pot
from .tree import Tree
from .wording import format_kronor


class GrantFileJSONField(forms.JSONField):
    """JSON read as the grant file reads it: duplicate keys refused, fractions kept apart.

    Plain `json.loads` would turn `1500.5` into a float that the model check could only
    call "a float"; read this way it says "money is a whole number of kronor, not 1500.5".
    """

    def to_python(self, value):
        if self.disabled or not isinstance(value, str):
            return super().to_python(value)
        if not value.strip():
            return None
        try:
            return grantfile.load(value)
        except grantfile.GrantFileError as exc:
            raise ValidationError("; ".join(problem for _path, problem in exc.errors)) from None


def model_context(grant: Grant) -> grantfile.Context:
    """What a pot model in `grant` may name: its organisations and its datasets' values."""
    organisations = set(grant.organisations.values_list("slug", flat=True))
    datasets: dict[str, dict[str, int]] = {}
    # Every dataset with its values in one query; one without values comes as one empty row.
    values = Dataset.objects.filter(grant=grant).values_list(
        "slug", "values__organisation__slug", "values__value"
    )
    for dataset, organisation, value in values:
        found = datasets.setdefault(dataset, {})
        if organisation is not None:
            found[organisation] = value
    return grantfile.Context(organisations=organisations, datasets=datasets)


def model_problems(
    grant: Grant, context: grantfile.Context, pots: list[Pot] | None = None
) -> list[str]:
    """Every problem of the grant's pot models against `context`, naming the pot (`pots`: the
    grant's pots in order, when the caller has read them already)."""
    problems = []
    for pot in grant.pots.order_by("position", "id") if pots is None else pots:
        if pot.model is None:
            continue
        for path, problem in grantfile.check_model(pot.model, context):
            problems.append(f"{pot.name} ({pot.slug}) {path}: {problem}")
    return problems


def new_problems(grant: Grant, context: grantfile.Context) -> list[str]:
    """The model problems `context` would bring that the grant does not have now."""
    known = set(model_problems(grant, model_context(grant)))
    return [p for p in model_problems(grant, context) if p not in known]


# ---------------------------------------------------------------- the budget tree


@dataclass
class Draft:
    """A pot as it will be once the submitted change is saved: what the budget rules read."""

    key: object  # the pot's id, or a stand-in for a pot not saved yet
    name: str
    parent: object  # the parent's key; None at the top
    amount: int | None  # None: the pot takes the rest
    has_model: bool
    fixed_total: int | None = None  # what a fixed model hands out


@dataclass
class Problem:
    pot: object  # key of the pot the rule is about; None for the grant's top level
    code: str
    message: str

    @property
    def about_children(self) -> bool:
        """Whether the problem lies in the pots below `pot` rather than in `pot` itself."""
        return self.code != "fixed_exceeds"


def draft_of(pot: Pot, key=None, parent=None) -> Draft:
    return Draft(
        key=pot.pk if key is None else key,
        name=pot.name,
        parent=pot.parent_id if parent is None else parent,
        amount=None if pot.takes_rest else pot.amount,
        has_model=bool(pot.model),
        fixed_total=grantfile.fixed_total(pot.model),
    )


def grant_drafts(grant_id: int) -> dict[object, Draft]:
    return {pot.pk: draft_of(pot) for pot in Pot.objects.filter(grant_id=grant_id)}


def draft_tree(drafts: Iterable[Draft]) -> Tree[Draft]:
    return Tree(drafts, key=attrgetter("key"), parent=attrgetter("parent"))


def below(key, drafts: Iterable[Draft]) -> set:
    """The keys of every pot below `key` (not `key` itself)."""
    return draft_tree(drafts).below(key)


def budget_problems(grant_amount: int, drafts: Iterable[Draft]) -> list[Problem]:
    """What breaks the rule of the budget tree (`engine.check_budget`), in words.

    A pot has either pots below it or a model; at most one pot per parent takes the rest;
    the pots under a parent (or at the top, under the grant) do not add up to more than it.
    """
    tree = draft_tree(drafts)

    def budget_pot(draft: Draft, children: list[engine.BudgetPot]) -> engine.BudgetPot:
        return engine.BudgetPot(
            key=draft.key,
            amount=engine.REST if draft.amount is None else draft.amount,
            has_model=draft.has_model,
            fixed_total=draft.fixed_total,
            children=tuple(children),
        )

    _amounts, problems = engine.check_budget(grant_amount, tree.fold(budget_pot))
    return [Problem(p.pot, p.code, _problem_text(p, tree.by_key)) for p in problems]


def _problem_text(problem: engine.BudgetProblem, drafts: dict[object, Draft]) -> str:
    pot = drafts[problem.pot] if problem.pot is not None else None
    params = {
        "pot": pot.name if pot else "",
        "parent": pot.name if pot else "",
        "total": format_kronor(problem.total),
        "over": format_kronor(problem.over),
        "amount": format_kronor(problem.amount),
        "pots": ", ".join(f"“{drafts[key].name}”" for key in problem.rests),
    }
    if problem.code == "rests":
        if pot is None:
            return _("Only one top-level pot may take the rest; %(pots)s do.") % params
        return _("Only one pot under “%(parent)s” may take the rest; %(pots)s do.") % params
    if problem.code == "exceeds":
        if pot is None:
            message = _(
                "The top-level pots add up to %(total)s, %(over)s more than the grant's %(amount)s."
            )
        else:
            message = _(
                "The pots under “%(parent)s” add up to %(total)s, %(over)s more than its "
                "%(amount)s."
            )
        return message % params
    if problem.code == "divided_with_model":
        return (
            _(
                "“%(pot)s” is divided into other pots and also has an allocation model; "
                "a pot has one or the other. To divide a pot, empty its model and add "
                "the pots below it on its own page."
            )
            % params
        )
    if problem.code == "no_model":
        return _("“%(pot)s” needs an allocation model (or pots below it).") % params
    return (
        _(
            "The fixed amounts of “%(pot)s” add up to %(total)s, %(over)s more than "
            "the pot's %(amount)s."
        )
        % params
    )


def grant_problems(grant: Grant) -> list[str]:
    """Why the grant, as stored, cannot be computed; empty when it can."""
    pots = list(Pot.objects.filter(grant_id=grant.pk).order_by("position", "id"))  # read once
    problems = [p.message for p in budget_problems(grant.amount, [draft_of(p) for p in pots])]
    return problems + model_problems(grant, model_context(grant), pots)


# ---------------------------------------------------------------- pots


class PotForm(GroupedNumbers, forms.ModelForm):
    """A pot on its own page. The pots below it are the children inline's (`PotChildFormSet`)."""

    # The children inline checks the budget of the pots it edits, all together.
    checks_budget = True

    class Meta:
        model = Pot
        fields = [
            "grant",
            "parent",
            "slug",
            "name",
            "position",
            "amount",
            "takes_rest",
            "model",
            "description",
            "roadmap_needs",
        ]
        field_classes = {"model": GrantFileJSONField}
        widgets = {"model": forms.Textarea(attrs={"rows": 10, "cols": 90})}

    def clean(self):
        data = super().clean()
        grant = self._grant(data)
        if grant is None:
            return data  # the grant field says what is wrong
        self._check_amount(data)
        self._check_slug(grant, data)
        self._check_parent(grant, data)
        self._check_model(grant, data)
        self._check_roadmap_needs(data)
        if self.checks_budget and not self.errors:
            self._check_budget(grant, data)
        return data

    def _grant(self, data) -> Grant | None:
        if "grant" in self.fields:
            return data.get("grant")
        if self.instance.grant_id is None:
            return None
        return Grant.objects.get(pk=self.instance.grant_id)

    def _parent(self, data) -> Pot | None:
        if "parent" in self.fields:
            return data.get("parent")
        return self.instance.parent if self.instance.parent_id else None

    def _check_amount(self, data) -> None:
        takes_rest, amount = data.get("takes_rest"), data.get("amount")
        if "amount" not in data:
            return  # not a whole number: the field says so
        if takes_rest and amount is not None:
            self.add_error(
                "amount",
                _("A pot that takes the rest has no amount of its own: leave the amount empty."),
            )
        elif not takes_rest and amount is None:
            self.add_error("amount", _("Give an amount, or tick “takes the rest”."))

    def _check_slug(self, grant: Grant, data) -> None:
        # With the grant on the form, Django's own unique check does this.
        slug = data.get("slug")
        if "grant" in self.fields or not slug:
            return
        taken = Pot.objects.filter(grant=grant, slug=slug).exclude(pk=self.instance.pk)
        if taken.exists():
            self.add_error("slug", _("This grant already has a pot with the id “%s”.") % slug)

    def _check_parent(self, grant: Grant, data) -> None:
        parent = data.get("parent")
        if "parent" not in self.fields or parent is None:
            return
        if parent.grant_id != grant.pk:
            self.add_error("parent", _("“%s” belongs to another grant.") % parent)
            return
        if self.instance.pk is None:
            return
        # Walk up from the chosen parent: meeting this pot means it would lie below itself.
        parents = dict(Pot.objects.filter(grant=grant).values_list("pk", "parent_id"))
        current, seen = parent.pk, set()
        while current is not None and current not in seen:
            if current == self.instance.pk:
                self.add_error(
                    "parent",
                    _(
                        "A pot cannot lie below itself: “%(parent)s” is “%(pot)s” or one of "
                        "the pots below it."
                    )
                    % {"parent": parent, "pot": self.instance},
                )
                return
            seen.add(current)
            current = parents.get(current)

    def _check_model(self, grant: Grant, data) -> None:
        model = data.get("model")
        if model is None:
            return
        for path, problem in grantfile.check_model(model, model_context(grant)):
            self.add_error("model", f"{path}: {problem}")

    def _check_roadmap_needs(self, data) -> None:
        needs = data.get("roadmap_needs")
        if needs is None:
            data["roadmap_needs"] = []
        elif not isinstance(needs, list) or not all(isinstance(n, str) for n in needs):
            self.add_error("roadmap_needs", _('A list of codes, e.g. ["1a", "3b"].'))

    def _check_budget(self, grant: Grant, data) -> None:
        """The tree with this pot as submitted, and the pots below it as they are now."""
        drafts = grant_drafts(grant.pk)
        me = self.instance.pk or "new"
        parent = self._parent(data)
        drafts[me] = Draft(
            key=me,
            name=data["name"],
            parent=parent.pk if parent else None,
            amount=data.get("amount"),
            has_model=bool(data.get("model")),
            fixed_total=grantfile.fixed_total(data.get("model")),
        )
        mine = below(me, drafts.values())
        parent_key = parent.pk if parent else None
        for problem in budget_problems(grant.amount, drafts.values()):
            if problem.pot in mine or (problem.pot == me and problem.about_children):
                continue  # the children inline checks those, with its own changes
            self.add_error(self._field_for(problem, me, parent_key), problem.message)

    def _field_for(self, problem: Problem, me, parent_key) -> str | None:
        if problem.pot == me:
            return "model"
        if problem.pot == parent_key:
            return {"rests": "takes_rest", "exceeds": "amount", "divided_with_model": "parent"}.get(
                problem.code
            )
        return None


class PotChildForm(PotForm):
    """A pot in the children inline: its grant and parent are those of the pot above it."""

    checks_budget = False

    class Meta(PotForm.Meta):
        fields = ["slug", "name", "position", "amount", "takes_rest", "model"]
        widgets = {"model": forms.Textarea(attrs={"rows": 4, "cols": 60})}


class PotChildFormSet(forms.BaseInlineFormSet):
    """The pots below one pot, checked together with it (a pot has children or a model)."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        # Children live in their parent's grant; the form needs it to check the model.
        form.instance.grant_id = self.instance.grant_id

    def save_new(self, form, commit=True):
        form.instance.grant_id = self.instance.grant_id
        return super().save_new(form, commit=commit)

    def clean(self):
        super().clean()
        parent = self.instance
        if parent.grant_id is None or any(form.errors for form in self.forms):
            return
        kept = [
            form
            for form in self.forms
            if not self._should_delete_form(form) and (form.instance.pk or form.has_changed())
        ]
        self._check_slugs(kept)
        if kept and parent.pk and parent.applications.exists():
            raise ValidationError(
                _(
                    "“%s” has applications, and applications are made to pots that are not "
                    "divided: move or remove them before dividing this pot."
                )
                % parent
            )
        grant = Grant.objects.get(pk=parent.grant_id)
        drafts = grant_drafts(grant.pk)
        me = parent.pk or "new"
        drafts[me] = draft_of(parent, key=me, parent=parent.parent_id)
        for form in self.initial_forms:
            if self._should_delete_form(form):
                for key in below(form.instance.pk, drafts.values()) | {form.instance.pk}:
                    drafts.pop(key, None)
        for form in kept:
            key = form.instance.pk or form
            data = form.cleaned_data
            drafts[key] = Draft(
                key=key,
                name=data["name"],
                parent=me,
                amount=data.get("amount"),
                has_model=bool(data.get("model")),
                fixed_total=grantfile.fixed_total(data.get("model")),
            )
        mine = below(me, drafts.values())
        problems = [
            p.message
            for p in budget_problems(grant.amount, drafts.values())
            if p.pot in mine or (p.pot == me and p.about_children)
        ]
        if problems:
            raise ValidationError(problems)

    def _check_slugs(self, forms_kept) -> None:
        seen: set[str] = set()
        for form in forms_kept:
            slug = form.cleaned_data.get("slug")
            if slug in seen:
                raise ValidationError(_("Two pots below this one have the id “%s”.") % slug)
            seen.add(slug)


# ---------------------------------------------------------------- grants


class GrantForm(GroupedNumbers, forms.ModelForm):
    class Meta:
        model = Grant
        fields = [
            "slug",
            "title",
            "reference",
            "agreement",
            "received_from",
            "recipient",
            "administered_by",
            "amount",
            "decision_body",
            "delegated_to",
            "source_grant",
            "source_organisation",
            "published",
            "illustrative",
        ]
        field_classes = {"published": GrantFileJSONField, "illustrative": GrantFileJSONField}

    def clean(self):
        data = super().clean()
        self._check_source(data)
        if self.instance.pk and "amount" in self.changed_data and data.get("amount") is not None:
            self._check_budget(data["amount"])
        return data

    def clean_illustrative(self):
        return self.cleaned_data["illustrative"] or {}

    def _check_source(self, data) -> None:
        """Following the upstream grants from this one must never come back to it."""
        slug = data.get("slug", self.instance.slug)
        source = data.get("source_grant")
        if not slug or not source or source == slug:
            return  # `Grant.clean` refuses a grant that is its own source
        chain, current = [slug], source
        while current and current not in chain:
            chain.append(current)
            # This grant's stored link is being replaced by the form's, so skip its row.
            current = (
                Grant.objects.exclude(pk=self.instance.pk)
                .filter(slug=current)
                .values_list("source_grant", flat=True)
                .first()
            )
        if current == slug:
            self.add_error(
                "source_grant",
                _(
                    "Following the upstream grants from “%(grant)s” comes back to it "
                    "(%(chain)s): a grant cannot be its own source."
                )
                % {"grant": slug, "chain": " → ".join([*chain, slug])},
            )

    def _check_budget(self, amount: int) -> None:
        drafts = grant_drafts(self.instance.pk).values()
        # Only what the new amount breaks: an old problem is not this change's to refuse.
        known = {(p.pot, p.code) for p in budget_problems(self.instance.amount, drafts)}
        for problem in budget_problems(amount, drafts):
            if (problem.pot, problem.code) not in known:
                self.add_error("amount", problem.message)


class GrantOrganisationForm(GroupedNumbers, forms.ModelForm):
    """An organisation a grant names. Pot models, units and data refer to it, so it stays."""

    class Meta:
        model = GrantOrganisation
        fields = ["organisation", "position"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["organisation"].disabled = True


# ---------------------------------------------------------------- datasets


class DatasetForm(GroupedNumbers, forms.ModelForm):
    class Meta:
        model = Dataset
        fields = ["grant", "slug", "label", "source", "reference_date", "illustrative", "position"]

    def clean(self):
        data = super().clean()
        old, new = self.instance.slug, data.get("slug")
        if self.instance.pk and new and new != old:
            grant = self.instance.grant
            context = model_context(grant)
            context.datasets[new] = context.datasets.pop(old, {})
            for problem in new_problems(grant, context):
                self.add_error("slug", problem)
        return data


class DatasetValueFormSet(forms.BaseInlineFormSet):
    """A dataset's values; key pots divide money by them, so their models are checked again."""

    def clean(self):
        super().clean()
        dataset = self.instance
        if dataset.grant_id is None or any(form.errors for form in self.forms):
            return
        grant = Grant.objects.get(pk=dataset.grant_id)
        members = set(grant.organisations.values_list("pk", flat=True))
        values = {}
        for form in self.forms:
            organisation = form.cleaned_data.get("organisation")
            if self._should_delete_form(form) or organisation is None:
                continue
            if organisation.pk not in members:
                form.add_error(
                    "organisation",
                    _("“%s” is not one of the grant's organisations.") % organisation,
                )
                continue
            values[organisation.slug] = form.cleaned_data["value"]
        if dataset.pk is None or any(form.errors for form in self.forms):
            return  # a new dataset is not in any model yet
        context = model_context(grant)
        context.datasets[dataset.slug] = values
        problems = new_problems(grant, context)
        if problems:
            raise ValidationError(problems)


# ---------------------------------------------------------------- units


class GrantUnitForm(GroupedNumbers, forms.ModelForm):
    """A unit's figures for one grant; its operator must be one of the grant's organisations."""

    class Meta:
        model = GrantUnit
        fields = [
            "grant",
            "unit",
            "organisation",
            "type",
            "places",
            "customers",
            "in_city",
            "city_placed_share",
            "position",
        ]

    def clean(self):
        data = super().clean()
        grant = data.get("grant") if "grant" in self.fields else self.instance.grant
        organisation = data.get("organisation")
        if grant and organisation and not grant.organisations.filter(pk=organisation.pk).exists():
            self.add_error(
                "organisation", _("“%s” is not one of the grant's organisations.") % organisation
            )
        return data


# ---------------------------------------------------------------- decisions


class DecideForm(GroupedNumbers, forms.Form):
    """The decision (beslut) on a computed run; the names match `applications.services.decide`."""

    decided_on = forms.DateField(
        label=_("decision date"), widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    decided_by = forms.CharField(
        label=_("decided by"), max_length=200, help_text=_("E.g. Äldrenämnden.")
    )
    delegation = forms.CharField(
        label=_("delegation"),
        max_length=300,
        required=False,
        help_text=_("When decided by delegation: to whom, e.g. Förvaltningschef."),
    )
    reference = forms.CharField(
        label=_("reference number (diarienummer)"), max_length=100, required=False
    )

    @staticmethod
    def defaults(grant) -> dict:
        """What the form starts from: today, and the grant's decision body, delegation and
        reference number."""
        return {
            "decided_on": timezone.localdate(),
            "decided_by": grant.decision_body,
            "delegation": grant.delegated_to,
            "reference": grant.reference,
        }
