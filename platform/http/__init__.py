"""HTTP edges that are not GraphQL: streaming uploads (`POST /uploads`) and downloads
(`GET /files/{id}`). Like every edge they parse, call a service and shape the answer.

`install_storage(app, settings)` mounts them and wires the blob store, the upload
limits and the object-store readiness check. The design is in docs/storage.md.
"""

from licheng.http.routes import install_storage, storage_routes

__all__ = ["install_storage", "storage_routes"]
