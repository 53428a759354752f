"""The demonstration directory: Lâm Đồng (H36) on all four tiers, a few ministries, and
the office systems that speak for them. Names are real-looking; the G codes of the
ministries are illustrative (Decision 09/2025 re-issued them), not an official list.

After 1 July 2025 the district tier was abolished: the demo keeps one district closed,
with the commune that took over its work as successor, so that a packet addressed to
the old code shows the successor rule.
"""

from __future__ import annotations

from axis.directory import Agency

PROVINCE = "000.00.00.H36"

AGENCIES: tuple[Agency, ...] = (
    # central: ministries and the Government Office (stand-ins until the national axis)
    Agency("000.00.00.G22", "Văn phòng Chính phủ", "central"),
    Agency("000.00.00.G09", "Bộ Nội vụ", "central"),
    Agency("000.00.00.G12", "Bộ Tài chính", "central"),
    Agency("000.00.00.G13", "Bộ Khoa học và Công nghệ", "central"),
    # province: the People's Committee and its departments
    Agency(PROVINCE, "UBND tỉnh Lâm Đồng", "province"),
    Agency("000.01.00.H36", "Sở Nội vụ tỉnh Lâm Đồng", "province", PROVINCE),
    Agency("000.02.00.H36", "Sở Tài chính tỉnh Lâm Đồng", "province", PROVINCE),
    Agency("000.03.00.H36", "Sở Khoa học và Công nghệ tỉnh Lâm Đồng", "province", PROVINCE),
    # districts (one of them closed in the 2025 reorganization)
    Agency("000.30.00.H36", "UBND thành phố Đà Lạt", "district", PROVINCE),
    Agency(
        "000.31.00.H36",
        "UBND huyện Đức Trọng (đã giải thể 01/7/2025)",
        "district",
        PROVINCE,
        status="closed",
        successor="000.01.31.H36",
    ),
    # communes and wards
    Agency("000.01.30.H36", "UBND Phường 1, thành phố Đà Lạt", "commune", "000.30.00.H36"),
    Agency("000.02.30.H36", "UBND Phường 2, thành phố Đà Lạt", "commune", "000.30.00.H36"),
    Agency("000.01.31.H36", "UBND xã Đức Trọng", "commune", "000.31.00.H36"),
)

#: systemid -> (role, agencies it speaks for)
SYSTEMS: dict[str, tuple[str, tuple[str, ...]]] = {
    "qlvb.lamdong": ("agency", (PROVINCE, "000.01.00.H36", "000.02.00.H36", "000.03.00.H36")),
    "qlvb.dalat": ("agency", ("000.30.00.H36", "000.??.30.H36")),
    "qlvb.ductrong": ("agency", ("000.01.31.H36",)),
    "qlvb.bo-nganh": ("agency", ("*.G??",)),
    "kiemtoan": ("auditor", ("*",)),
    "quantri": ("admin", ("*",)),
}


def name_of(code: str) -> str:
    for agency in AGENCIES:
        if agency.code == code:
            return agency.name
    return code


def party(code: str) -> tuple[str, str]:
    return code, name_of(code)
