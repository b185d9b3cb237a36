"""The interactive REST reference (`/sms/v1/docs`): Swagger UI, served by the gateway itself.

Its script and style come from the `swagger-ui-bundle-v2` package, not from a CDN: the page works on a machine
without internet access, and no third party's script runs beside the API key a reader types into it. The key
is not kept in the browser's storage either (no `persistAuthorization`): it leaves with the tab. The answers
carry a Content-Security-Policy that allows this origin only, so the page cannot load anything else.
"""

from __future__ import annotations

from pathlib import Path

from martinet.api.rest.openapi import DOCS_PATH, OPENAPI_PATH

#: The files of the page under DOCS_PATH/, and their content types.
_ASSETS = {
    "swagger-ui.css": b"text/css; charset=utf-8",
    "swagger-ui-bundle.js": b"text/javascript; charset=utf-8",
    "favicon-32x32.png": b"image/png",
}
_START_NAME = "start.js"

_PAGE = f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Martinet REST API</title>
<link rel="stylesheet" href="{DOCS_PATH}/swagger-ui.css">
<link rel="icon" type="image/png" href="{DOCS_PATH}/favicon-32x32.png">
</head>
<body>
<div id="ui"></div>
<script src="{DOCS_PATH}/swagger-ui-bundle.js"></script>
<script src="{DOCS_PATH}/{_START_NAME}"></script>
<noscript>The OpenAPI document is at <a href="{OPENAPI_PATH}">{OPENAPI_PATH}</a>.</noscript>
</body>
</html>
""".encode()

# validatorUrl: null, or Swagger UI would show a badge fetched from its authors' validation service.
_START = f"""window.ui = SwaggerUIBundle({{url: "{OPENAPI_PATH}", dom_id: "#ui", validatorUrl: null}});
""".encode()

#: Same origin only; Swagger UI sets inline styles and shows data: images (its icons).
_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]

Answer = tuple[int, bytes, list[tuple[bytes, bytes]]]


class DocsUi:
    """The page and its files. The files (2 MB) are read on first request, then kept: few workers ever serve them."""

    def __init__(self) -> None:
        self._folder: Path | None = None
        self._files: dict[str, bytes] = {}

    def answer(self, path: str) -> Answer:
        """Status, body and headers for a GET of `path` (DOCS_PATH or a file under it)."""
        if path == DOCS_PATH:
            return 200, _PAGE, [(b"content-type", b"text/html; charset=utf-8"), *_HEADERS]
        name = path.removeprefix(DOCS_PATH + "/")
        if name == _START_NAME:
            return 200, _START, [(b"content-type", b"text/javascript; charset=utf-8"), *_HEADERS]
        content_type = _ASSETS.get(name)
        if content_type is None:
            return 404, b"Not Found", [(b"content-type", b"text/plain; charset=utf-8")]
        return 200, self._file(name), [(b"content-type", content_type), (b"cache-control", b"max-age=86400")]

    def _file(self, name: str) -> bytes:
        if name not in self._files:
            self._files[name] = (self._bundle() / name).read_bytes()
        return self._files[name]

    def _bundle(self) -> Path:
        if self._folder is None:
            from swagger_ui_bundle import swagger_ui_path

            self._folder = Path(str(swagger_ui_path))
        return self._folder
