"""IP network functions: cidrhost cidrnetmask cidrsubnet cidrsubnets (Terraform's rules:
host bits in the prefix are ignored, negative host numbers count from the end)."""

from __future__ import annotations

from releasemgr.template.functions._core import FunctionError, register, to_int, to_str


def _network(prefix, i: int = 0):
    import ipaddress  # noqa: PLC0415  (only templates that use these functions pay for it)

    text = to_str(prefix, i)
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise FunctionError(f"invalid CIDR expression: {text!r} (expected e.g. \"10.0.0.0/16\")",
                            i) from None


@register("cidrhost", 2, 2, "cidrhost(prefix, hostnum)")
def cidrhost(prefix, hostnum):
    import ipaddress  # noqa: PLC0415

    net = _network(prefix)
    num = to_int(hostnum, 1)
    host_bits = net.max_prefixlen - net.prefixlen
    size = 1 << host_bits
    if num < -size or num >= size:
        raise FunctionError(
            f"prefix of {net.prefixlen} bits cannot accommodate a host numbered {num}", 1)
    if num < 0:
        num += size
    cls = ipaddress.IPv4Address if net.version == 4 else ipaddress.IPv6Address
    return str(cls(int(net.network_address) + num))


@register("cidrnetmask", 1, 1, "cidrnetmask(prefix)")
def cidrnetmask(prefix):
    # IPv6 prefixes give an IPv6-style mask, as in Packer 1.6.6 (newer Terraform refuses)
    return str(_network(prefix).netmask)


def _subnet(net, newbits: int, netnum: int):
    import ipaddress  # noqa: PLC0415

    new_len = net.prefixlen + newbits
    if new_len > net.max_prefixlen:
        raise FunctionError(f"insufficient address space to extend prefix of {net.prefixlen} "
                            f"by {newbits}", 1)
    if netnum < 0 or netnum >= (1 << newbits):
        raise FunctionError(f"prefix extension of {newbits} does not accommodate a subnet "
                            f"numbered {netnum}", 2)
    addr = int(net.network_address) + (netnum << (net.max_prefixlen - new_len))
    return ipaddress.ip_network((addr, new_len))


@register("cidrsubnet", 3, 3, "cidrsubnet(prefix, newbits, netnum)")
def cidrsubnet(prefix, newbits, netnum):
    net = _network(prefix)
    bits = to_int(newbits, 1)
    if bits < 0:
        raise FunctionError("newbits must not be negative", 1)
    return str(_subnet(net, bits, to_int(netnum, 2)))


@register("cidrsubnets", 1, None, "cidrsubnets(prefix, newbits...)")
def cidrsubnets(prefix, *newbits):
    """Consecutive subnets, each aligned to its own size, as go-cidr's NextSubnet does."""
    import ipaddress  # noqa: PLC0415

    net = _network(prefix)
    width = net.max_prefixlen
    full = (1 << width) - 1
    start_len = net.prefixlen
    out: list[str] = []
    if not newbits:
        return out
    first_len = start_len + to_int(newbits[0], 1)
    # the subnet just before the network (PreviousSubnet), so the first "next" is aligned
    prev_ip = (int(net.network_address) - 1) & full
    cur_addr = prev_ip & (full ^ ((1 << max(width - first_len, 0)) - 1)) if first_len <= width else 0
    cur_len = first_len
    for i, nb in enumerate(newbits, start=1):
        bits = to_int(nb, i)
        if bits < 1:
            raise FunctionError("must extend prefix by at least one bit", i)
        length = start_len + bits
        if length > width:
            raise FunctionError(f"would extend prefix to {length} bits, which is too long for "
                                f"an IPv{net.version} address", i)
        cur_last = cur_addr | ((1 << (width - cur_len)) - 1)
        mask = full ^ ((1 << (width - length)) - 1)
        block_last = (cur_last & mask) | ((1 << (width - length)) - 1)
        nxt = (block_last + 1) & full
        rollover = nxt == 0
        nxt &= mask
        candidate = ipaddress.ip_network((nxt, length))
        if rollover or not (int(net.network_address) <= nxt <= int(net.broadcast_address)):
            prev = ipaddress.ip_network((cur_addr, cur_len))
            raise FunctionError(f"not enough remaining address space for a subnet with a prefix "
                                f"of {length} bits after {prev}", i)
        out.append(str(candidate))
        cur_addr, cur_len = nxt, length
    return out
