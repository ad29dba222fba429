"""A guest book page: a form that POSTs with its CSRF token, and a thank-you page that stores
the visitor in the session and sets a cookie."""
from django.shortcuts import redirect, render

from .forms import SignForm


def index(request):
    return redirect("sign")


def sign(request):
    if request.method == "POST":
        form = SignForm(request.POST)
        if form.is_valid():
            name = form.cleaned_data["name"]
            request.session["signed_by"] = name
            visits = request.session.get("visits", 0) + 1
            request.session["visits"] = visits
            response = render(request, "guestbook/thanks.html",
                              {"name": name, "message": form.cleaned_data["message"],
                               "visits": visits})
            response.set_cookie("guestbook_name", name, max_age=3600, httponly=True)
            return response
    else:
        form = SignForm()
    return render(request, "guestbook/sign.html",
                  {"form": form, "signed_by": request.session.get("signed_by")})
