"""Small helpers for the API tests: a token per persona, JSON calls with it."""

import json

from chatdata.api_tokens import do_create_api_token

API = "/api/v1"


def token_for(user, name="tests", **kwargs):
    return do_create_api_token(actor=user, name=name, **kwargs)[1]


def call(client, method, path, secret=None, body=None, **params):
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    url = API + path
    if method == "get":
        return client.get(url, params, headers=headers)
    return getattr(client, method)(url, json.dumps(body if body is not None else {}), content_type="application/json", headers=headers)
