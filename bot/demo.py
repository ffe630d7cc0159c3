"""Demo data for `casebot demo`: a few synthetic cases in every colour (labelled as demo)."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING

from bot import cases as ops
from bot.context import unit_of_work
from bot.domain.scoring import Deduction

if TYPE_CHECKING:
    from bot.app import App

log = logging.getLogger(__name__)

DEMO_CASES: list[tuple[str, str, list[Deduction], list[str]]] = [
    ("【演示】何某强奸案", "审查逮捕", [
        Deduction("criminal_facts", 16, "嫌疑人零口供，痕迹物证灭失", "查明犯罪事实",
                  "调取案发地周边监控、通话记录", "十日内补充间接证据并形成证据链"),
        Deduction("harmful_consequence", 8, "被害人伤情鉴定未出具", "确定危害后果",
                  "委托伤情鉴定", "鉴定意见随案移送"),
        Deduction("causation", 8, "伤情与行为的因果关系未证明", "排除介入因素",
                  "询问接诊医生", "形成书面询问笔录")], []),
    ("【演示】某涉疫诈骗案（涉案70余万元）", "提前介入", [
        Deduction("harmful_consequence", 10, "涉案金额未逐笔核实", "准确认定数额",
                  "调取银行流水", "制作资金流向表"),
        Deduction("surrender_merit", 5, "到案经过材料缺失", "认定自首情节", "补充到案经过说明",
                  "由办案单位出具书面说明")], []),
    ("【演示】徐某某等销售假冒注册商标商品案", "审查逮捕", [
        Deduction("causation", 4, "部分商品来源未查清", "厘清上下游", "询问供货人",
                  "补充供货人笔录")], []),
    ("【演示】王某盗窃案", "提前介入", [], []),
]


async def seed_demo(app: App) -> None:
    s = app.services
    async with unit_of_work(s) as out:
        today = out.now().astimezone(s.config.tz).date()
        prosecutor = s.directory.people["p-prosecutor-1"]
        for i, (title, stage, deductions, vetoes) in enumerate(DEMO_CASES):
            case = await ops.create_case(out, ops.NewCase(
                title=title, stage=stage, police_unit="ps-hc-xd", prosecutor=prosecutor.id,
                investigators=("p-investigator-1", "p-investigator-2"),
                investigation_deadline=today + timedelta(days=20 + 10 * i),
                custody_deadline=today + timedelta(days=30 + 10 * i)), by="demo")
            if i < 3:
                await ops.record_evaluation(out, case, prosecutor, deductions, vetoes, "演示评分")
            log.info("demo case %s: %s", case.code, title)
