"""The admin's autocomplete select, valid HTML also for a required field."""

from django.contrib.admin import widgets


class AutocompleteSelect(widgets.AutocompleteSelect):
    """Django's, with an empty first option also when the field is required.

    Django leaves that option out of a required field's select but keeps its `required`
    attribute, and the HTML standard asks a required single select to start with an empty
    placeholder option (the Nu Html Checker refuses the page otherwise). select2 shows the
    empty option as nothing chosen; the form still refuses an empty value.
    """

    def optgroups(self, name, value, attr=None):
        groups = super().optgroups(name, value, attr)
        if self.is_required and not self.allow_multiple_selected:
            empty = self.choices.field.empty_label or "---------"
            groups[0][1].insert(0, self.create_option(name, "", empty, False, 0))
        return groups


class ValidAutocomplete:
    """For a ModelAdmin or inline with `autocomplete_fields`: their selects are valid HTML."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = AutocompleteSelect(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)
