from chatdata.roles import roles_of


def staff(request):
    user = getattr(request, "user", None)
    return {"staff_roles": sorted(roles_of(user)) if user is not None else []}
