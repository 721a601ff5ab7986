"""National ID numbers: check digit, masking, encryption at rest, keyed lookups (DOMAIN.md "Personal data")."""

from __future__ import annotations

import pytest

from licheng.errors import InvalidInput
from licheng.tenants import nationalid

VALID = ["A123456789", "F131104093", "A800000014"]  # national IDs and a new-style resident certificate


@pytest.mark.parametrize("value", VALID)
def test_valid_numbers_pass_the_check_digit(value):
    assert nationalid.normalise(value.lower()) == value


@pytest.mark.parametrize("value", ["A123456788", "A323456789", "1234567890", "A12345678", "", "AB23456789X"])
def test_malformed_numbers_are_refused_without_echoing_them(value):
    with pytest.raises(InvalidInput) as caught:
        nationalid.normalise(value)
    assert caught.value.code == "INVALID_INPUT"
    if value:
        assert value not in str(caught.value) and value not in repr(caught.value.details)


def test_masking_hides_the_last_four_characters():
    """MOE guidance: A123456****."""
    assert nationalid.mask("A123456789") == "A12345****"


def test_protect_stores_only_ciphertext_hash_and_mask():
    key, lookup = b"k" * 32, b"l" * 32
    fields = nationalid.protect("a123456789", data_key=key, lookup_key=lookup)
    assert fields["national_id_masked"] == "A12345****"
    assert b"A123456789" not in fields["national_id_encrypted"]
    assert nationalid.decrypt(fields["national_id_encrypted"], key) == "A123456789"
    assert fields["national_id_hash"] == nationalid.lookup_hash("A123456789", lookup)
    assert fields["national_id_hash"] != nationalid.lookup_hash("A123456789", b"x" * 32)


def test_two_encryptions_of_the_same_number_differ():
    key = b"k" * 32
    assert nationalid.encrypt("A123456789", key) != nationalid.encrypt("A123456789", key)
