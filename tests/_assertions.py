"""Assertions shared by the package tests."""

import pytest


def raises_with_message(error_type, argument, call, *fragments):
    """``call()`` raises ``error_type`` whose message starts with ``argument:`` and says expected / got."""
    with pytest.raises(error_type) as info:
        call()
    message = str(info.value)
    assert message.startswith(f"{argument}:"), message
    assert "expected" in message and "got" in message, message
    for fragment in fragments:
        assert fragment in message, message
    return message
