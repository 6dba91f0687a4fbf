"""The lease contract printed for signing: HTML and A4 PDF read back, for housing officers."""

from __future__ import annotations

from shared.city import city_config
from tests.integration.allocation.conftest import NOTARY, OFFICER, drafted_contract
from tests.printed import A4_POINTS, page_sizes, pdf_text
from tests.services import RunningService


async def test_the_contract_prints_with_the_lessor_seal_and_the_lessee_line(
    allocation: RunningService,
) -> None:
    household, contract = await drafted_contract(allocation)
    url = f"/contracts/{contract['id']}/print"

    page = await allocation.client.get(url, headers=OFFICER)
    assert page.status_code == 200
    assert "<h1>厦门市公共租赁住房租赁合同</h1>" in page.text
    assert f"<tr><th>承租人（乙方）</th><td>配租家庭 {household}</td></tr>" in page.text

    pdf = await allocation.client.get(f"{url}.pdf", headers=OFFICER)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert f'filename="{contract["id"]}.pdf"' in pdf.headers["content-disposition"]
    assert page_sizes(pdf.content) == {A4_POINTS}
    text = pdf_text(pdf.content)
    centre = city_config().offices.housing_centre
    assert text.splitlines()[0] == "厦门市公共租赁住房租赁合同"
    for expected in (
        f"编号：{contract['id']}",
        f"配租家庭 {household}",
        f"人民币 {contract['monthly_rent']} 元",
        "提前收回情形",
        "2. 转借、转租或者擅自调换所承租公共租赁住房的",
        "出租人（甲方）：厦门市住房保障中心",
        "（盖章处）",
        "承租人（乙方）签字：",
        f"地址：{centre.address}",
        f"电话：{centre.phone}",
    ):
        assert expected in text, expected
    # The clause codes are for tenancy's systems, not for the paper.
    assert "[sublet]" not in text and "[sublet]" in contract["text"]

    assert (await allocation.client.get(f"{url}.pdf", headers=NOTARY)).status_code == 403
    missing = await allocation.client.get(
        "/contracts/00000000-0000-0000-0000-000000000000/print.pdf", headers=OFFICER
    )
    assert missing.status_code == 404
