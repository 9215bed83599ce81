"""Hypothesis strategies for indicator values and the log text around them."""

from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

_LABEL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=12)

domains = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "net", "org", "info", "jp", "co.uk"]),
)
md5s = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
sha256s = st.text(alphabet="0123456789abcdef", min_size=64, max_size=64)
ipv4s = st.integers(min_value=0, max_value=2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6s = (
    st.integers(min_value=1, max_value=2**128 - 1)
    .map(ipaddress.IPv6Address)
    .filter(lambda a: a.ipv4_mapped is None)
    .map(str)
)
emails = st.builds(lambda local, domain: f"{local}@{domain}", _LABEL, domains)

# Characters that end every kind of value, so a planted value stands alone.
separators = st.sampled_from([" ", "\t", '"', "'", ",", ";", "(", ")", "[", "]", "<", ">", "|", "="])
# Log text that holds no hex digit, dot, colon or host character next to a plant.
filler = st.text(alphabet="ghijklmnopqrstuvwxyz GHIJKLMNOPQRSTUVWXYZ!#$^*~", max_size=40)

# Case changes that must not matter for case-insensitive kinds.
case_changes = st.sampled_from([str.lower, str.upper, str.swapcase, lambda s: s])
