#!/usr/bin/env python3
"""Writes the seed corpus of fuzz_dnsmx into corpus/dnsmx: DNS answers to
MX queries as a server would send them (names compressed against the
question), each after the control byte fuzz_dnsmx reads first (max).

usage: python3 dnsmx_seeds.py [directory]    (default: corpus/dnsmx)
"""
import os
import struct
import sys


def name(n, ptrs=None, at=0):
    """Encodes n, pointing at an earlier suffix when ptrs knows one."""
    out = b""
    labels = [l for l in n.split(".") if l]
    for i in range(len(labels)):
        suffix = ".".join(labels[i:]).lower()
        if ptrs is not None and suffix in ptrs:
            return out + struct.pack(">H", 0xC000 | ptrs[suffix])
        if ptrs is not None:
            ptrs[suffix] = at + len(out)
        l = labels[i].encode()
        out += bytes([len(l)]) + l
    return out + b"\0"


def answer(qname, mxs, extra=(), rcode=0, qtype=15, compress=True):
    """mxs: (pref, host) pairs; extra: (host, ipv4) additional A records."""
    ptrs = {} if compress else None
    hdr = struct.pack(">HHHHHH", 0x1234, 0x8180 | rcode, 1, len(mxs), 0,
                      len(extra))
    pkt = hdr + name(qname, ptrs, 12) + struct.pack(">HH", qtype, 1)
    for pref, host in mxs:
        owner = name(qname, ptrs, len(pkt))
        rd_at = len(pkt) + len(owner) + 10 + 2
        rd = struct.pack(">H", pref) + name(host, ptrs, rd_at)
        pkt += owner + struct.pack(">HHIH", 15, 1, 3600, len(rd)) + rd
    for host, ip in extra:
        owner = name(host, ptrs, len(pkt))
        rd = bytes(int(x) for x in ip.split("."))
        pkt += owner + struct.pack(">HHIH", 1, 1, 300, 4) + rd
    return pkt


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "corpus", "dnsmx")
    os.makedirs(d, exist_ok=True)
    google = [(5, "gmail-smtp-in.l.google.com"),
              (10, "alt1.gmail-smtp-in.l.google.com"),
              (20, "alt2.gmail-smtp-in.l.google.com"),
              (30, "alt3.gmail-smtp-in.l.google.com"),
              (40, "alt4.gmail-smtp-in.l.google.com")]
    seeds = {
        # reversed, as servers often send them: the sort must fix it
        "gmail": (16, answer("gmail.com", google[::-1])),
        "ties": (16, answer("example.com", [(10, "mx2.example.com"),
                                            (10, "mx1.example.com"),
                                            (20, "backup.example.net"),
                                            (10, "mx3.example.com")])),
        "ties-max2": (2, answer("example.com", [(10, "a.example.com"),
                                                (10, "b.example.com"),
                                                (10, "c.example.com")])),
        "nullmx": (16, answer("example.org", [(0, ".")])),
        "uncompressed": (1, answer("example.net", [(0, "mail.example.net")],
                                   compress=False)),
        "additional": (16, answer("example.com",
                                  [(10, "mx.example.com"),
                                   (20, "mx2.example.com")],
                                  [("mx.example.com", "192.0.2.25"),
                                   ("mx2.example.com", "192.0.2.26")])),
        "nxdomain": (16, answer("nonexistent.example", [], rcode=3)),
        "many": (16, answer("big.example", [(i % 7, "mx%d.big.example" % i)
                                            for i in range(24)])),
        "max0": (0, answer("example.com", [(10, "mx.example.com")])),
    }
    g = answer("gmail.com", google)
    seeds["truncated"] = (16, g[:len(g) - 7])
    # an exchange name that points at itself
    loop = bytearray(answer("loop.example", [(10, "x.loop.example")]))
    loop[-2:] = struct.pack(">H", 0xC000 | (len(loop) - 2))
    seeds["pointer-loop"] = (16, bytes(loop))
    for fn, (mx, pkt) in seeds.items():
        with open(os.path.join(d, fn), "wb") as f:
            f.write(bytes([mx]) + pkt)


if __name__ == "__main__":
    main()
