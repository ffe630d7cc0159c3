"""Regenerate config/org.yaml: SYNTHETIC demo data (invented names), 11 cities, 111 counties."""

from __future__ import annotations

import random
from pathlib import Path

import yaml

CITIES = [("c01", "示范市", 14), ("c02", "东川市", 12), ("c03", "西岭市", 13),
          ("c04", "南河市", 11),
          ("c05", "北原市", 9), ("c06", "青川市", 8), ("c07", "白鹿市", 10), ("c08", "金沙市", 7),
          ("c09", "云台市", 11), ("c10", "松江市", 12), ("c11", "临水市", 4)]
PLACE = list("安宁平康泰和丰华兴清长永明德新福宝城乐阳顺江山林原川河湖桥岭溪云石")
SUFFIX = ["县", "区", "县", "县", "区", "市"]
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
)
GIVEN = list("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志文斌宇浩凯鹏晨阳琳雪梅")
rng = random.Random(20261126)


def name() -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def main() -> None:
    units: list[dict[str, object]] = [
        {"id": "prov", "name": "示范省人民检察院", "kind": "province", "parent": None,
         "code_prefix": None}]
    people: list[dict[str, object]] = []
    prefixes: set[str] = {"HY"}
    used_names: set[str] = set()
    letters = "ABCDEFGHJKLMNPQRSTWXYZ"
    dt = iter(range(1, 10_000))

    def person(pid: str, unit: str, roles: list[str]) -> str:
        people.append({"id": pid, "name": name(), "unit": unit, "roles": roles,
                       "ids": {"dingtalk": f"dt-{next(dt):04d}"}})
        return pid

    counties: list[str] = []
    city_chiefs: list[str] = []
    for cid, cname, n in CITIES:
        units.append({"id": cid, "name": f"{cname}人民检察院", "kind": "city", "parent": "prov",
                      "code_prefix": None})
        city_chiefs.append(person(f"p-chief-{cid}", cid, ["chief"]))
        for i in range(1, n + 1):
            uid = f"{cid}-{i:02d}"
            if uid == "c01-01":
                county, prefix = "海澄县", "HY"
            else:
                while True:
                    county = "".join(rng.sample(PLACE, 2)) + rng.choice(SUFFIX)
                    if county not in used_names:
                        break
                while True:
                    prefix = "".join(rng.choice(letters) for _ in range(2))
                    if prefix not in prefixes:
                        break
            used_names.add(county)
            prefixes.add(prefix)
            units.append({"id": uid, "name": f"{cname}{county}人民检察院", "kind": "county",
                          "parent": cid, "code_prefix": prefix})
            counties.append(uid)
    assert len(counties) == 111, len(counties)
    county_chiefs = [person(f"p-chief-{u}", u, ["chief"]) for u in counties]
    units += [
        {"id": "ps-hc", "name": "示范市海澄县公安局", "kind": "police", "parent": "c01-01",
         "code_prefix": None},
        {"id": "ps-hc-xd", "name": "示范市海澄县公安局刑事侦查大队", "kind": "police",
         "parent": "c01-01", "code_prefix": None},
    ]
    inspectors = [person(f"p-inspector-{i}", "prov", ["inspector"]) for i in (1, 2, 3)]
    leaders = [person(f"p-leader-{i}", "prov", ["leader"]) for i in (1, 2)]
    person("p-admin-1", "prov", ["admin"])
    prosecutors = [person(f"p-prosecutor-{i}", "c01-01", ["prosecutor"]) for i in (1, 2, 3)]
    managers = [person(f"p-case-manager-{i}", "c01-01", ["case_manager"]) for i in (1, 2)]
    county_leader = person("p-leader-hc", "c01-01", ["leader"])
    investigators = [person(f"p-investigator-{i}", "ps-hc-xd" if i <= 3 else "ps-hc",
                            ["investigator"]) for i in range(1, 6)]
    chats = [
        {"id": "g-inspection", "title": "检务督导面对面（省院视频会议群）",
         "members": inspectors + leaders + city_chiefs + county_chiefs},
        {"id": "g-case-team", "title": "海澄县检警协作群",
         "members": prosecutors + managers + [county_leader] + investigators},
    ]
    header = (
        "# SYNTHETIC DEMO DATA — 虚构演示数据：单位、人员、编号均为虚构，如有雷同纯属巧合。\n"
        "# Regenerate with: python scripts/gen_demo_org.py\n"
        "# 11 cities, 111 county offices (122 city and county offices), like the seed's province.\n"
    )
    body = yaml.safe_dump({"demo": True, "units": units, "people": people, "chats": chats},
                          allow_unicode=True, sort_keys=False, width=120)
    out = Path(__file__).resolve().parents[1] / "config" / "org.yaml"
    out.write_text(header + body, encoding="utf-8")
    print(f"wrote {out}: {len(units)} units, {len(people)} people")


if __name__ == "__main__":
    main()
