"""Storage: blob stores (local disk, S3), streaming checks of uploads, checksums.

Start at `blobstore.make_blob_store(url)` for the store and at
`checks.store_checked_upload` for an upload; refusals are `errors.UploadRefused`.
The quota ledger and the database rows live beside these, not in them.
"""
