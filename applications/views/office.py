"""The officials' pages (handläggning): calls, review, decision, payments, reports, claims."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def start(request):
    return render(request, "applications/office/start.html", {})
