"""Every word the page shows, in 中文 (the default) and English."""
from __future__ import annotations

LANGS = {"zh": "中文", "en": "English"}

STRINGS: dict[str, dict[str, str]] = {
    # navigation and sidebar
    "app_title": {"zh": "DocChat 文档问答", "en": "DocChat"},
    "page_chat": {"zh": "💬 问答", "en": "💬 Chat"},
    "page_kb": {"zh": "📚 知识库", "en": "📚 Knowledge base"},
    "nav": {"zh": "页面", "en": "Page"},
    "kb_select": {"zh": "知识库", "en": "Knowledge base"},
    "settings": {"zh": "设置", "en": "Settings"},
    "language": {"zh": "界面语言", "en": "Language"},
    "backend": {"zh": "语言模型", "en": "Language model"},
    "backend_gguf": {"zh": "内置模型（本机）", "en": "Built-in model (this computer)"},
    "backend_chatglm2": {"zh": "ChatGLM2（本地权重）", "en": "ChatGLM2 (local weights)"},
    "backend_openai": {"zh": "OpenAI 兼容服务器", "en": "OpenAI-compatible server"},
    "temperature": {"zh": "创造性（温度）", "en": "Creativity (temperature)"},
    "temperature_help": {"zh": "越低越稳定，越高越多变。", "en": "Lower is steadier, higher is more varied."},
    "top_k": {"zh": "参考段落数", "en": "Passages to consult"},
    "top_k_help": {"zh": "每个问题从知识库取多少段落。", "en": "How many passages each question draws on."},
    # chat page
    "new_chat": {"zh": "➕ 新对话", "en": "➕ New conversation"},
    "past_chats": {"zh": "历史对话", "en": "Conversations"},
    "untitled": {"zh": "新对话", "en": "New conversation"},
    "ask_placeholder": {"zh": "请输入您的问题…", "en": "Ask a question about your documents…"},
    "sources": {"zh": "来源（{n}）", "en": "Sources ({n})"},
    "page_n": {"zh": "第 {page} 页", "en": "page {page}"},
    "no_sources": {"zh": "此回答没有引用知识库中的段落。", "en": "This answer cites no passage of the knowledge base."},
    # source preview ("view source" under an answer)
    "view_source": {"zh": "查看原文", "en": "View source"},
    "preview_title": {"zh": "原文", "en": "Source"},
    "preview_gone": {"zh": "这个文件已从知识库删除或已被新版本替换，无法显示当时的原文。以下是回答时引用的段落：",
                     "en": "This document has been removed from the knowledge base or replaced by a newer version, "
                           "so the original cannot be shown. This is the passage as it was quoted:"},
    "preview_file_missing": {"zh": "原文件已不在保存位置（可能被移走或删除），下面显示知识库中保存的文字。",
                             "en": "The original file is no longer where it was stored (moved or deleted); "
                                   "this is the text the knowledge base kept."},
    "preview_not_located": {"zh": "未能在这一页上标出引用的段落（例如扫描页），段落原文如下：",
                            "en": "The passage could not be marked on this page (a scanned page, for example); here it is:"},
    "preview_marked": {"zh": "黄色标出的是引用的段落。", "en": "The cited passage is marked in yellow."},
    "welcome_title": {"zh": "👋 欢迎使用 DocChat", "en": "👋 Welcome to DocChat"},
    "welcome_body": {
        "zh": "在下面输入问题，DocChat 只根据知识库里的文件回答，并注明出处（文件、页码、原文）。"
              "可以先试试这些关于示例文件的问题：",
        "en": "Type a question below. DocChat answers only from the files in the knowledge base "
              "and shows where each answer comes from (file, page, passage). "
              "Try one of these questions about the sample documents:",
    },
    "welcome_empty_kb": {
        "zh": "知识库“{kb}”还是空的。请到“知识库”页面上传文件，或点击下面的按钮载入示例文件。",
        "en": "The knowledge base “{kb}” is empty. Upload files on the Knowledge base page, "
              "or load the sample documents with the button below.",
    },
    "load_samples": {"zh": "载入示例文件", "en": "Load the sample documents"},
    "thinking": {"zh": "正在查找并作答…", "en": "Looking it up…"},
    "err_earlier": {"zh": "这个问题当时没能回答（出错了）。请重新提问。",
                    "en": "This question could not be answered at the time (an error occurred). Please ask it again."},
    "evidence": {"zh": "正在根据这些段落作答（{n}）", "en": "Answering from these passages ({n})"},
    "checking": {"zh": "正在逐句核对回答…", "en": "Checking the answer sentence by sentence…"},
    "stop": {"zh": "停止回答", "en": "Stop"},
    "ocr_mark": {"zh": "（扫描件文字识别，请对照原页核实）", "en": "(read by OCR from a scan: check it against the page)"},
    "stopped": {"zh": "（已停止：以上是停止前显示的内容）", "en": "(stopped: this is what was shown before it was stopped)"},
    "models_loading": {"zh": "模型正在后台加载，页面可以先用；第一次回答可能稍慢。",
                       "en": "The models are loading in the background; you can use the page meanwhile, "
                             "the first answer may take a little longer."},
    "queue_eta": {"zh": "（预计约 {s} 秒后开始）", "en": " (about {s} s until it starts)"},
    "queue_wait": {"zh": "模型正在回答其他人的问题，您前面还有 {n} 个问题，请稍候…",
                   "en": "The model is answering someone else's question; {n} question(s) ahead of yours…"},
    # knowledge-base page
    "kb_title": {"zh": "知识库：{kb}", "en": "Knowledge base: {kb}"},
    "upload_label": {"zh": "拖放文件到这里，或点击选择（可多选）",
                     "en": "Drop files here, or click to choose (several at once)"},
    "upload_help": {"zh": "支持：{formats}。每个文件最大 {mb} MB，一次最多 {n} 个文件。",
                    "en": "Supported: {formats}. Up to {mb} MB per file, {n} files at a time."},
    "upload_button": {"zh": "加入知识库", "en": "Add to the knowledge base"},
    "upload_faq": {"zh": "这些表格是可信的常见问题表（按原文作答）",
                   "en": "These tables are trusted FAQ lists (answered word for word)"},
    "upload_faq_help": {"zh": "只有勾选后，含“问题/答案”列的 CSV 或 Excel 才会被逐字用作回答；"
                              "否则它们只是普通文档。只对您核实过的表格勾选。",
                        "en": "Only when this is ticked are question/answer columns of a CSV or Excel "
                              "file given word for word as answers; otherwise they are ordinary "
                              "documents. Tick it only for tables you have checked."},
    "name_clash": {"zh": "知识库中已有名为 {name} 的文件，但内容不同。要替换它，还是两个都保留（新文件将另起名）？",
                   "en": "A document named {name} is already in the knowledge base, with other content. "
                         "Replace it, or keep both (the new one gets a new name)?"},
    "clash_replace": {"zh": "替换原文件", "en": "Replace it"},
    "clash_keep_both": {"zh": "两个都保留", "en": "Keep both"},
    "clash_skip": {"zh": "不上传这个文件", "en": "Don't add this file"},
    "too_many_files": {"zh": "一次最多上传 {n} 个文件；已处理前 {n} 个，请分批上传其余文件。",
                       "en": "At most {n} files at a time; the first {n} were taken. Please upload the rest in another batch."},
    "too_big": {"zh": "{name}：文件太大（{size} MB，上限 {mb} MB）。请拆分文件或压缩后再上传。",
                "en": "{name}: the file is too large ({size} MB, the limit is {mb} MB). Split or shrink it, then upload again."},
    "working_on": {"zh": "正在处理 {name}…", "en": "Working on {name}…"},
    "stage_reading": {"zh": "读取", "en": "reading"},
    "stage_parsing": {"zh": "解析", "en": "parsing"},
    "stage_ocr": {"zh": "识别扫描页和图片中的文字", "en": "reading scanned pages and pictures (OCR)"},
    "stage_embedding": {"zh": "建立索引", "en": "indexing"},
    "stage_saving": {"zh": "保存", "en": "saving"},
    "stage_done": {"zh": "完成", "en": "done"},
    "upload_done": {"zh": "上传处理完成", "en": "Upload finished"},
    "docs_title": {"zh": "文件列表（{n} 个）", "en": "Documents ({n})"},
    "no_docs": {"zh": "知识库中还没有文件。", "en": "No documents yet."},
    "col_name": {"zh": "文件名", "en": "Name"},
    "col_pages": {"zh": "页数", "en": "Pages"},
    "col_passages": {"zh": "段落数", "en": "Passages"},
    "col_added": {"zh": "加入时间", "en": "Added"},
    "col_size": {"zh": "大小", "en": "Size"},
    "delete_doc": {"zh": "删除选中的文件", "en": "Delete the chosen document"},
    "download_doc": {"zh": "下载原文件", "en": "Download the original"},
    "download_missing": {"zh": "原文件已不在保存位置（可能被移走或删除），无法下载。",
                         "en": "The original file is no longer where it was stored (moved or deleted), so it cannot be downloaded."},
    "choose_doc": {"zh": "选择文件", "en": "Choose a document"},
    "deleted": {"zh": "已从知识库删除：{name}", "en": "Removed from the knowledge base: {name}"},
    "reindex": {"zh": "重新建立索引", "en": "Re-index all documents"},
    "reindex_done": {"zh": "重新索引完成：{n} 个文件", "en": "Re-indexed: {n} document(s)"},
    "sync": {"zh": "从数据文件夹刷新", "en": "Refresh from the data folder"},
    "sync_help": {"zh": "让知识库与文件夹 {folder} 保持一致：加入新文件、更新改动的、移除已删除的。",
                  "en": "Make the knowledge base match the folder {folder}: add new files, update changed ones, drop removed ones."},
    "nothing_changed": {"zh": "没有变化。", "en": "Nothing changed."},
    "manage_kbs": {"zh": "管理知识库", "en": "Manage knowledge bases"},
    "new_kb_name": {"zh": "新知识库名称", "en": "New knowledge base name"},
    "create_kb": {"zh": "创建", "en": "Create"},
    "kb_created": {"zh": "已创建知识库“{kb}”。", "en": "Created the knowledge base “{kb}”."},
    "delete_kb": {"zh": "删除当前知识库", "en": "Delete this knowledge base"},
    "delete_kb_confirm": {"zh": "我确认删除“{kb}”及其全部索引（原文件不受影响）",
                          "en": "I am sure: delete “{kb}” and its index (the original files are kept)"},
    "kb_deleted": {"zh": "已删除知识库“{kb}”。", "en": "Deleted the knowledge base “{kb}”."},
    # passage splitting (per knowledge base, sidebar) and re-indexing
    "chunking_title": {"zh": "分段设置（知识库“{kb}”）", "en": "Passage splitting (knowledge base “{kb}”)"},
    "chunk_sentences": {"zh": "每段句数", "en": "Sentences per passage"},
    "chunk_sentences_help": {"zh": "知识库把文件切成小段来查找答案；每段包含几句话（1-20）。",
                             "en": "Files are cut into passages to find answers in; how many sentences each passage holds (1-20)."},
    "chunk_overlap": {"zh": "相邻段落重叠句数", "en": "Sentences shared with the next passage"},
    "chunk_overlap_help": {"zh": "相邻两段共用的句数，必须小于每段句数。",
                           "en": "How many sentences two neighbouring passages share; fewer than the sentences per passage."},
    "chunking_invalid": {"zh": "重叠句数（{k}）必须小于每段句数（{n}）。请调小重叠句数，或调大每段句数。",
                         "en": "The overlap ({k}) must be smaller than the sentences per passage ({n}). Lower the overlap or raise the sentences per passage."},
    "chunking_save": {"zh": "保存分段设置", "en": "Save the splitting settings"},
    "chunking_unsaved": {"zh": "修改尚未保存：请点击“保存分段设置”。",
                         "en": "Not saved yet: press “Save the splitting settings”."},
    "chunking_applied": {"zh": "✓ 所有文件都按每段 {n} 句、重叠 {k} 句切分。",
                         "en": "✓ Every document is split into passages of {n} sentences, {k} shared."},
    "chunking_saved": {"zh": "已保存分段设置：每段 {n} 句，重叠 {k} 句。",
                       "en": "Saved: {n} sentences per passage, {k} shared."},
    "reindex_pending": {"zh": "新的分段设置（每段 {n} 句，重叠 {k} 句）已保存，之后上传的文件会使用它；"
                              "已有的 {files} 个文件仍按旧设置切分，重新索引后才会生效。",
                        "en": "The new splitting ({n} sentences per passage, {k} shared) is saved and new uploads use it; "
                              "{files} document(s) already here keep the old splitting until you re-index."},
    "reindex_apply": {"zh": "立即重新索引以应用", "en": "Re-index now to apply"},
    "reindex_pending_kb": {"zh": "分段设置已更改：点击“重新建立索引”，让已有文件也按新设置切分。",
                           "en": "The splitting settings were changed: press “Re-index all documents” to apply them to the documents already here."},
    "reindex_doc": {"zh": "重新索引选中的文件", "en": "Re-index the chosen document"},
    "working_on_n": {"zh": "正在处理 {name}（第 {i}/{n} 个）…", "en": "Working on {name} ({i} of {n})…"},
    "upload_summary": {"zh": "{n} 个文件：{ok} 个已收录，{same} 个已在知识库中，{bad} 个无法读取。",
                       "en": "{n} files: {ok} indexed, {same} already in the knowledge base, {bad} could not be read."},
    # optional password
    "sign_in_title": {"zh": "请输入访问密码", "en": "Please enter the password"},
    "password": {"zh": "密码", "en": "Password"},
    "sign_in": {"zh": "进入", "en": "Enter"},
    "wrong_password": {"zh": "密码不正确，请重试；如忘记密码，请联系管理员。",
                       "en": "That password is not right; try again, or ask your administrator."},
    # errors: one plain sentence + what to do
    "err_model": {"zh": "语言模型无法启动：{detail} 请联系管理员检查模型设置。",
                  "en": "The language model could not start: {detail} Please ask your administrator to check the model settings."},
    "err_backend": {"zh": "模型服务器暂时无法回答：{detail} 请稍后再试。",
                    "en": "The model server could not answer: {detail} Please try again in a moment."},
    "err_busy": {"zh": "知识库正在导入其他文件，请几分钟后再试。",
                 "en": "The knowledge base is busy with another import; please try again in a few minutes."},
    "err_too_long": {"zh": "问题或参考段落太长，模型无法处理。请缩短问题，或在设置中减少参考段落数。",
                     "en": "The question and its passages are too long for the model. Shorten the question or lower “Passages to consult”."},
    "err_unexpected": {"zh": "出现了意外问题，已记录到日志。请重试；如果仍然出错，请联系管理员。",
                       "en": "Something unexpected went wrong and was written to the log. Please try again; if it keeps happening, tell your administrator."},
}


def t(key: str, lang: str = "zh", **values) -> str:
    text = STRINGS[key].get(lang) or STRINGS[key]["en"]
    return text.format(**values) if values else text


SAMPLE_QUESTIONS = {
    "zh": ["出差住宿费一线城市每晚最多多少钱？", "新员工试用期是多长时间？", "How long must passwords be?"],
    "en": ["How long must passwords be?", "出差住宿费一线城市每晚最多多少钱？", "新员工试用期是多长时间？"],
}
