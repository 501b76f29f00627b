"""A confirmation step before a desk action that cannot be undone (release, collect, cancel,
refund): the first submit shows what will happen, the second (with `confirmed=1`) does it. Works
without JavaScript; the posted fields ride along as hidden inputs."""

from django.shortcuts import render

SKIPPED = {"csrfmiddlewaretoken", "confirmed"}


def confirmed(request) -> bool:
    return request.POST.get("confirmed") == "1"


def confirm_page(request, *, title: str, question: str, button: str, back: str, details=()):
    fields = [
        (name, value)
        for name in request.POST
        if name not in SKIPPED
        for value in request.POST.getlist(name)
    ]
    return render(
        request,
        "desk/confirm.html",
        {
            "title": title,
            "question": question,
            "button": button,
            "back": back,
            "details": list(details),
            "fields": fields,
            "action": request.path,
        },
    )
