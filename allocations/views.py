from django.shortcuts import redirect


def home(request):
    # The provider portal and officials' pages come with the workflow; until then, the admin.
    return redirect("admin:index")
