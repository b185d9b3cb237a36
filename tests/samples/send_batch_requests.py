"""Sending a CSV campaign from Python the way smsmode users do: `requests` with `files={'fichier': ...}`.

Only the base URL differs from a program written for smsmode. Usage:

    send_batch_requests.py BASE_URL ACCESS_TOKEN CSV_FILE

The access token and the default sender go in the query string, the file in a multipart/form-data body. The
server's answer is written to standard output byte for byte.
"""

from __future__ import annotations

import sys

import requests


def send(base_url: str, access_token: str, path: str) -> bytes:
    url = base_url.rstrip("/") + "/sendSMSBatch.do"
    with open(path, "rb") as csv_file:
        answer = requests.post(
            url,
            params={"accessToken": access_token, "emetteur": "Defaut"},
            files={"fichier": csv_file},
            timeout=60,
        )
    answer.raise_for_status()
    return answer.content


if __name__ == "__main__":
    sys.stdout.buffer.write(send(*sys.argv[1:4]))
    sys.stdout.buffer.flush()
