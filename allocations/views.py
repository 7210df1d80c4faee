from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from stimulans.roles import is_administrator, is_official, is_provider


@login_required
def home(request):
    """Everyone starts where their work is."""
    user = request.user
    if is_official(user):
        return redirect("office:start")
    if is_provider(user):
        return redirect("portal:start")
    if is_administrator(user):
        return redirect("admin:index")
    return redirect("portal:start")
