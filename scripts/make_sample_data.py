"""Writes the sample documents in data/ (run once; the outputs are committed).

The texts are our own, written for the first demo: a Chinese employee handbook (DOCX), a Chinese
expense policy (PDF), an English IT security policy (PDF) and a Chinese FAQ (CSV). Each has
concrete numbers so that a first question has a checkable answer.
"""
from __future__ import annotations

import csv
from pathlib import Path

from docx import Document as DocxDocument
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

DATA = Path(__file__).resolve().parents[1] / "data"

HANDBOOK = [
    ("h1", "星河科技有限公司员工手册"),
    ("p", "本手册适用于公司全体正式员工和试用期员工，自2025年1月1日起施行。"),
    ("h2", "第一章 工作时间"),
    ("p", "公司实行标准工时制度，每周工作五天，每天工作八小时。上班时间为上午9:00至12:00，下午13:30至18:30。"),
    ("p", "员工迟到或早退超过30分钟的，按事假半天处理。每月迟到累计不得超过3次。"),
    ("h2", "第二章 试用期与转正"),
    ("p", "新员工试用期一般为三个月，最长不超过六个月。试用期工资不低于转正工资的百分之八十。"),
    ("p", "试用期满前十个工作日，由部门负责人提交转正评估表，人力资源部审核后通知员工本人。"),
    ("h2", "第三章 假期"),
    ("p", "员工在公司工作满一年的，每年享受带薪年休假5天；满十年的，年休假10天；满二十年的，年休假15天。"),
    ("p", "年休假可以分段使用，但当年未休完的，最多可以顺延至次年3月31日。"),
    ("list", "病假需提供二级以上医院出具的病假证明。"),
    ("list", "婚假为3天，晚婚员工另加7天。"),
    ("list", "产假为158天，配偶陪产假为15天。"),
    ("h2", "第四章 薪酬与福利"),
    ("p", "工资于每月10日发放，遇节假日提前至最近的工作日。公司为员工缴纳五险一金，住房公积金缴存比例为百分之十二。"),
    ("table", [["福利项目", "标准", "发放时间"],
               ["餐费补贴", "每个工作日30元", "随工资发放"],
               ["交通补贴", "每月500元", "随工资发放"],
               ["年度体检", "每人每年一次，标准800元", "每年第二季度"]]),
    ("h2", "第五章 离职"),
    ("p", "员工主动离职的，应当提前三十日以书面形式通知公司；试用期内应当提前三日通知。"),
    ("p", "离职前须完成工作交接，归还电脑、门禁卡等公司财物。交接完成后，公司在五个工作日内出具离职证明。"),
]

EXPENSE_PAGES = [
    [
        ("title", "星河科技有限公司费用报销制度"),
        ("p", "第一条 为规范公司费用报销管理，控制经营成本，制定本制度。"),
        ("p", "第二条 员工因公出差、招待客户、采购办公用品等产生的费用，均按本制度报销。"),
        ("p", "第三条 报销须在费用发生后三十日内提交，逾期提交的，需部门负责人书面说明原因。"),
        ("p", "第四条 单笔金额在五千元以下的报销由部门负责人审批；五千元以上的，还须经财务总监审批。"),
    ],
    [
        ("title", "差旅费标准"),
        ("p", "第五条 出差住宿费标准：一线城市每人每晚不超过六百元，其他城市每人每晚不超过四百元。"),
        ("p", "第六条 出差伙食补助每人每天一百元，按出差自然日计算，不再另行报销餐费。"),
        ("p", "第七条 员工出差原则上乘坐高铁二等座或飞机经济舱；乘坐飞机须提前七天预订以取得折扣。"),
        ("p", "第八条 报销时须提供增值税发票原件；电子发票须打印并注明报销人姓名。"),
        ("p", "第九条 本制度由财务部负责解释，自发布之日起施行。"),
    ],
]

IT_POLICY_PAGES = [
    [
        ("title", "Xinghe Technology IT Security Policy"),
        ("p", "1. Purpose. This policy protects the company's information, computers and networks. "
              "It applies to all employees, contractors and visitors who use company IT systems."),
        ("p", "2. Passwords. Passwords must be at least 12 characters long and contain letters, "
              "numbers and symbols. Passwords must be changed every 90 days and must never be shared."),
        ("p", "3. Multi-factor authentication. Multi-factor authentication is required for e-mail, "
              "the VPN and every system that holds customer data."),
    ],
    [
        ("title", "Devices and incidents"),
        ("p", "4. Laptops. Company laptops must use full-disk encryption and lock the screen after "
              "5 minutes of inactivity. Personal USB drives may not be connected to company laptops."),
        ("p", "5. Incidents. A lost or stolen device must be reported to the IT help desk within "
              "24 hours, by phone at extension 8000 or by e-mail to it-help@xinghe.example."),
        ("p", "6. Software. Only software from the approved catalogue may be installed. Requests for "
              "other software go to the IT help desk and are answered within 3 working days."),
    ],
]

FAQ = [
    ("问题", "答案"),
    ("公司的Wi-Fi密码在哪里查看？", "访客Wi-Fi密码贴在前台；员工请使用工号登录Xinghe-Staff网络。"),
    ("打印机没纸了找谁？", "请联系行政部小王，分机号8021，打印纸存放在三楼储物间。"),
    ("忘记门禁卡怎么办？", "到前台登记后可领取临时门禁卡，当天下班前归还。"),
    ("工资条在哪里看？", "每月10日后登录人力资源系统，在“我的薪酬”中查看电子工资条。"),
    ("会议室怎么预订？", "在企业微信的“会议室预订”小程序中预订，单次最长4小时。"),
    ("公司体检什么时候安排？", "年度体检安排在每年第二季度，人力资源部会提前两周发通知。"),
]


def write_handbook_docx(path: Path) -> None:
    doc = DocxDocument()
    doc.core_properties.title = "星河科技有限公司员工手册"
    doc.core_properties.author = "DocChat sample"
    for kind, content in HANDBOOK:
        if kind == "h1":
            doc.add_heading(content, level=1)
        elif kind == "h2":
            doc.add_heading(content, level=2)
        elif kind == "list":
            doc.add_paragraph(content, style="List Bullet")
        elif kind == "table":
            table = doc.add_table(rows=len(content), cols=len(content[0]))
            table.style = "Table Grid"
            for r, row in enumerate(content):
                for c, cell in enumerate(row):
                    table.cell(r, c).text = cell
        else:
            doc.add_paragraph(content)
    doc.save(str(path))


def write_pdf(path: Path, pages: list, font: str, title: str) -> None:
    title_style = ParagraphStyle("t", fontName=font, fontSize=16, leading=22, spaceAfter=12)
    body_style = ParagraphStyle("b", fontName=font, fontSize=11, leading=17, spaceAfter=8,
                                wordWrap="CJK" if font == "STSong-Light" else None)
    story = []
    for i, page in enumerate(pages):
        if i:
            story.append(PageBreak())
        for kind, text in page:
            story.append(Paragraph(text, title_style if kind == "title" else body_style))
        story.append(Spacer(1, 12))
    doc = SimpleDocTemplate(str(path), pagesize=A4, title=title, author="DocChat sample",
                            invariant=1)  # invariant: byte-identical output on every run
    doc.build(story)


def write_faq_csv(path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(FAQ)


def main() -> None:
    DATA.mkdir(exist_ok=True)
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    write_handbook_docx(DATA / "employee_handbook_zh.docx")
    write_pdf(DATA / "expense_policy_zh.pdf", EXPENSE_PAGES, "STSong-Light", "费用报销制度")
    write_pdf(DATA / "it_security_policy_en.pdf", IT_POLICY_PAGES, "Helvetica", "IT Security Policy")
    write_faq_csv(DATA / "office_faq_zh.csv")
    print("wrote", ", ".join(sorted(p.name for p in DATA.iterdir())))


if __name__ == "__main__":
    main()
