"""CORS on the storage edges: the rule of /graphql (`licheng.auth.oauth.cors`) for /uploads and /files/{id}.

Browsers at an approved OAuth client's origin (its redirect URIs) may upload
(`POST /uploads` with `Authorization`, `Content-Type`, `X-Filename`; the direct
upload's `/uploads/direct` and `/uploads/{id}/complete`) and
download (`GET /files/{id}`, reading `Content-Disposition` and `Repr-Digest`);
never with credentials (the endpoints take a bearer token or a ticket, never
a cookie), and every other origin gets no CORS headers at all. The origins
and their reloading are those of `ClientOriginCORS` (one cache, one rule).
"""

from __future__ import annotations

import re

from licheng.auth.oauth.cors import ClientOriginCORS, CorsRule

EXPOSED = "Content-Disposition, Repr-Digest, Retry-After"
_ROUTES = (
    (re.compile(r"/uploads\Z"), CorsRule(("POST",), "authorization, content-type, x-filename", EXPOSED)),
    (re.compile(r"/uploads/(direct|[A-Za-z0-9=_-]+/complete)\Z"), CorsRule(("POST",), "authorization, x-filename", EXPOSED)),
    (re.compile(r"/files/\d+\Z"), CorsRule(("GET",), "authorization", EXPOSED)),
)


class StorageCORS(ClientOriginCORS):
    """`ClientOriginCORS` with the storage paths, their method and their request headers."""

    def rule_for(self, path: str) -> CorsRule | None:
        for pattern, rule in _ROUTES:
            if pattern.match(path):
                return rule
        return None
