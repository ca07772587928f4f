"""python-irodsclient exceptions map onto cyverse_link.core.errors with actionable messages."""

from __future__ import annotations

import pytest
from irods import exception as ex

from cyverse_link.core.errors import (
    AuthenticationFailed,
    ChecksumMismatch,
    DataStoreError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    TransferFailed,
)
from cyverse_link.datastore.base import avu_attribute
from cyverse_link.datastore.irods_errors import connect_error, translate


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ex.CAT_INVALID_AUTHENTICATION("pw hunter2"), AuthenticationFailed),
        (ex.CAT_INVALID_USER(), AuthenticationFailed),
        (ex.CAT_NO_ACCESS_PERMISSION(), PermissionDenied),
        (ex.CAT_INSUFFICIENT_PRIVILEGE_LEVEL(), PermissionDenied),
        (ex.CAT_UNKNOWN_COLLECTION(), NotFound),
        (ex.CAT_UNKNOWN_FILE(), NotFound),
        (ex.OBJ_PATH_DOES_NOT_EXIST(), NotFound),
        (ex.DataObjectDoesNotExist(), NotFound),
        (ex.USER_CHKSUM_MISMATCH(), ChecksumMismatch),
        (ex.NetworkException("Could not receive server response"), TransferFailed),
        (ConnectionResetError(), TransferFailed),
        (ex.SYS_RESC_QUOTA_EXCEEDED(), DataStoreError),
        (ex.CAT_SQL_ERR(), DataStoreError),
    ],
)
def test_translate(exc: Exception, expected: type[Exception]) -> None:
    err = translate(exc, "uploading", "/iplant/home/a/x.jpg")
    assert type(err) is expected
    assert "/iplant/home/a/x.jpg" in str(err)
    assert "hunter2" not in str(err)  # the server's free text is never echoed


def test_connect_errors() -> None:
    refused = connect_error(ex.NetworkException("no"), "h", 1247, "alice")
    assert type(refused) is ServiceUnavailable and refused.exit_code == 3 and refused.retryable
    assert "irods.host" in str(refused) and "10 connections" in str(refused)
    auth = connect_error(ex.CAT_INVALID_AUTHENTICATION("x"), "h", 1247, "alice")
    assert type(auth) is AuthenticationFailed and auth.exit_code == 3 and not auth.retryable
    assert "credentials" in str(auth)


@pytest.mark.parametrize(
    ("key", "attribute"),
    [("catalog", "cyverse_link.catalog"), ("cyverse_link.catalog", "cyverse_link.catalog")],
)
def test_avu_attribute(key: str, attribute: str) -> None:
    assert avu_attribute(key) == attribute


@pytest.mark.parametrize("key", ["ipc_UUID", "IPC-bisque-id", "cyverse_link.ipcX"])
def test_avu_attribute_refuses_ipc(key: str) -> None:
    with pytest.raises(PermissionDenied, match="reserves"):
        avu_attribute(key)
