"""What the AppTest files share: a fresh DocChat home, starting the app on a page, uploading."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "ui" / "app.py")


def fresh_home(tmp_path: Path, monkeypatch, **env: str):
    """Points the settings at tmp_path/home with the given DOCCHAT_* variables; yields the home."""
    from docchat.settings import get_settings
    monkeypatch.setenv("DOCCHAT_HOME", str(tmp_path / "home"))
    for name, value in env.items():
        monkeypatch.setenv(f"DOCCHAT_{name.upper()}", value)
    get_settings.cache_clear()
    yield tmp_path / "home"
    get_settings.cache_clear()


def start(page: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["page"] = page
    return at.run()


def upload(at: AppTest, *files: tuple[str, bytes], mime: str = "application/octet-stream") -> AppTest:
    at.file_uploader[0].set_value([(name, data, mime) for name, data in files]).run()
    return at.button(key="upload_go").click().run()


def messages(at: AppTest) -> list[str]:
    return [e.value for kind in (at.success, at.info, at.error, at.warning) for e in kind]
