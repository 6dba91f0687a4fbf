"""The printable supplementary-materials notice (补件通知单), in Chinese, as an HTML page.

Plain string templating with every value escaped: the page holds only a handful of fields and
needs no template engine.
"""

from __future__ import annotations

from html import escape
from typing import Any

from shared.city import CityConfig
from shared.clock import SHANGHAI


def render_notice(*, city: CityConfig, application: Any, applicant_name: str, notice: Any) -> str:
    street = city.unit(notice.requested_org)
    street_name = street.name if street is not None else notice.requested_org
    requested = notice.requested_at.astimezone(SHANGHAI)
    rows = "\n".join(
        f"<tr><td>{i}</td><td>{escape(item['name'])}</td>"
        f"<td>{escape(item.get('note') or '')}</td></tr>"
        for i, item in enumerate(notice.items, start=1)
    )
    fallback = (
        '<p class="note">注：截止日期按周一至周五推算，如遇法定节假日调整以受理窗口通知为准。</p>'
        if notice.deadline_fallback
        else ""
    )
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>补件通知单 {escape(notice.notice_no)}</title>
<style>
body {{ font-family: "SimSun", "Songti SC", serif; margin: 2em auto; max-width: 42em; }}
h1 {{ text-align: center; letter-spacing: 0.3em; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border: 1px solid #000; padding: 0.4em; }}
.note {{ font-size: 0.9em; }}
@media print {{ body {{ margin: 0; }} }}
</style>
</head>
<body>
<h1>补件通知单</h1>
<p>编号：{escape(notice.notice_no)}</p>
<p>{escape(applicant_name)}（申请查询编号：{escape(application.tracking_no)}）：</p>
<p>您提交的{escape(city.city.name)}保障性住房申请经审查，尚需补交以下材料。
本通知一次性告知全部需补交的材料，请于 <strong>{notice.deadline:%Y年%m月%d日}</strong>
（含当日）前补交至任一受理窗口或通过网上平台上传。逾期未补交的，将依规定处理。</p>
<table>
<thead><tr><th>序号</th><th>材料名称</th><th>说明</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
{fallback}
<p>经办单位：{escape(street_name)}</p>
<p>经办人：{escape(notice.requested_by_name)}</p>
<p>出具时间：{requested:%Y年%m月%d日 %H:%M}</p>
</body>
</html>
"""
