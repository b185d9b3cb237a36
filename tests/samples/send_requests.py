"""Sending an SMS from Python the way smsmode's sample does: `requests`, text in ISO-8859-15.

Only the base URL differs from a program written for smsmode. Usage:

    send_requests.py BASE_URL ACCESS_TOKEN NUMERO MODE

MODE is `get` (a params dict whose message is ISO-8859-15 bytes), `get-quoted` (a query string built with
`urllib.parse.quote` of the ISO-8859-15 bytes), `post` (a form body of ISO-8859-15 bytes), `post-unicode`
(`classe_msg=9`, the text given to requests as `str`, which it sends as UTF-8) or `multipart` (the parameters as
`files` fields without file names, which requests posts as multipart/form-data, the text as ISO-8859-15 bytes). The server's answer is written to
standard output byte for byte.
"""

from __future__ import annotations

import sys
import urllib.parse

import requests

# The same texts as MESSAGE and UNICODE_MESSAGE in tests/api/test_client_samples.py.
MESSAGE = "Café à 5 €, crème & thé = 7 € (+1) où ?"
UNICODE_MESSAGE = "Café à 5 € 😀 été"


def send(base_url: str, access_token: str, numero: str, mode: str) -> bytes:
    url = base_url.rstrip("/") + "/sendSMS.do"
    if mode == "get":
        params = {"accessToken": access_token, "numero": numero, "message": MESSAGE.encode("iso-8859-15")}
        answer = requests.get(url, params=params, timeout=30)
    elif mode == "get-quoted":
        query = "accessToken={}&numero={}&message={}".format(
            urllib.parse.quote(access_token),
            urllib.parse.quote(numero),
            urllib.parse.quote(MESSAGE.encode("iso-8859-15")),
        )
        answer = requests.get(url + "?" + query, timeout=30)
    elif mode == "post":
        data = {"accessToken": access_token, "numero": numero, "message": MESSAGE.encode("iso-8859-15")}
        answer = requests.post(url, data=data, timeout=30)
    elif mode == "post-unicode":
        data = {"accessToken": access_token, "numero": numero, "classe_msg": "9", "message": UNICODE_MESSAGE}
        answer = requests.post(url, data=data, timeout=30)
    elif mode == "multipart":
        fields = {"accessToken": access_token, "numero": numero, "message": MESSAGE.encode("iso-8859-15")}
        answer = requests.post(url, files={name: (None, value) for name, value in fields.items()}, timeout=30)
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    answer.raise_for_status()
    return answer.content


if __name__ == "__main__":
    sys.stdout.buffer.write(send(*sys.argv[1:5]))
    sys.stdout.buffer.flush()
