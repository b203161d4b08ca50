"""The web face in a real browser (SPEC §10; DESIGN: Debian's chromium and
chromium-driver, driven by selenium; nothing is downloaded at run time).

A real node serves the pages from its own child process, as `serve` does; headless
chromium clicks from the node's page to a list, a thread, posts and a search, at a
phone's width and a desktop's, and checks what a person would see: the text, no
sideways scrolling on the phone, no script running (hostile text shows as text, the
page's policy blocks inline script) and nothing wrong in the browser's console.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from listfed.listinfo import Policy
from tests.conftest import DOMAIN, RecordingSmarthost, World, running_world
from tests.test_robots import to

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
TEAM = f"team@{DOMAIN}"
BOARD = f"board@{DOMAIN}"  # a members-only archive
HOSTILE = "<script>alert(1)</script>"
LONG_URL = "https://example.org/" + "a-very-long-path-segment-" * 12


@dataclass(frozen=True)
class Screen:
    name: str
    width: int
    height: int
    mobile: bool


PHONE = Screen("phone", 390, 844, True)
DESKTOP = Screen("desktop", 1280, 900, False)


def mail(
    mid: str, subject: str, body: str, sender: str = "Ann Lee <ann@example.org>", **more: str
) -> bytes:
    head = f"From: {sender}\r\nTo: {TEAM}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
    head += "Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in more.items())
    return (head + "\r\n" + body.replace("\n", "\r\n")).encode()


THREAD = [
    mail("root@x", "Rent strike meeting", "We meet on Friday at the café.\n"),
    mail(
        "r1@x",
        "Re: Rent strike meeting",
        f"> We meet on Friday\nFriday works. The demands are at {LONG_URL}\n",
        sender="Bob Marsh <bob@example.net>",
        **{"In-Reply-To": "<root@x>", "References": "<root@x>"},
    ),
    mail(
        "r2@x",
        "Re: Rent strike meeting",
        "I will bring the banner.\n",
        sender="Cy Ode <cy@example.com>",
        **{"In-Reply-To": "<r1@x>", "References": "<root@x> <r1@x>"},
    ),
]
RELAYED = mail(
    "relay@x",
    "From elsewhere",
    "Relayed in from two lists.\n",
    sender="Dana <dana@example.com>",
    **{"X-Listfed-Trace": "nyc.example coc@lists.nyc.example"},
)
WITH_FILE = mail(
    "file@x",
    "Flyer attached",
    '--b\nContent-Type: multipart/alternative; boundary="c"\n\n'
    "--c\nContent-Type: text/plain\n\nThe flyer is attached.\n"
    "--c\nContent-Type: text/html\n\n<p>The <b>flyer</b></p><script>alert(2)</script>\n"
    "--c--\n"
    '--b\nContent-Type: application/pdf; name="flyer.pdf"\n'
    'Content-Disposition: attachment; filename="flyer.pdf"\n'
    "Content-Transfer-Encoding: base64\n\nJVBERi0xLjQKJcfsj6IKJSVFT0YK\n"
    "--b--\n",
    **{"MIME-Version": "1.0", "Content-Type": 'multipart/mixed; boundary="b"'},
)
EVIL = mail(
    "evil@x", HOSTILE, f"{HOSTILE}<img src=x onerror=alert(3)>\n", sender="Eve <eve@example.com>"
)


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    """Headless chromium from Debian's packages, its console kept for the tests."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        pytest.fail(
            f"the browser tests need {' and '.join(missing)}: install Debian's chromium and "
            "chromium-driver (apt-get install chromium chromium-driver; .ci/run does)"
        )
    options = Options()
    options.binary_location = str(CHROMIUM)
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    options.add_argument("--disable-extensions")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(10)
    try:
        yield driver
    finally:
        driver.quit()


class Visit:
    """One browser on one node's web face at one screen size, checking every page."""

    def __init__(self, driver: WebDriver, base: str, screen: Screen) -> None:
        self.driver, self.base, self.screen = driver, base, screen
        driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": screen.width,
                "height": screen.height,
                "deviceScaleFactor": 3 if screen.mobile else 1,
                "mobile": screen.mobile,
            },
        )
        driver.get_log("browser")  # what came before this visit is not its concern

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        self.check()

    def click(self, text: str) -> None:
        self.driver.find_element(By.LINK_TEXT, text).click()
        self.check()

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def check(self) -> None:
        """What every page must be: styled, no script, fits the screen, a quiet console."""
        d, where = self.driver, f"{self.screen.name}: {self.driver.current_url}"
        assert d.execute_script("return document.readyState") == "complete", where
        # The stylesheet loaded and applied (a 404 would also show in the console).
        sheets = d.execute_script("return document.styleSheets.length")
        assert sheets == 1, where
        assert d.execute_script("return document.querySelectorAll('script').length") == 0, where
        with pytest.raises(NoAlertPresentException):
            _ = d.switch_to.alert.text
        overflow = d.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert overflow[1] == self.screen.width, where
        assert overflow[0] <= overflow[1], f"{where}: scrolls sideways ({overflow})"
        errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, f"{where}: console errors {errors}"


async def populate(world: World) -> None:
    world.make_list(TEAM, Policy.OPEN, description="Tenants organising & news")
    for raw in [*THREAD, RELAYED, WITH_FILE, EVIL]:
        await world.send(raw, TEAM)
    await world.idle()


def walk(visit: Visit) -> None:
    """The clicks a reader makes, with what each page must show."""
    visit.open("/")
    assert "team at lists.example.org" in visit.text()
    assert "Tenants organising & news" in visit.text()

    visit.click("team at lists.example.org")
    page = visit.text()
    assert "Or send a message to team-join at lists.example.org" in page
    for subject in ("Rent strike meeting", "From elsewhere", "Flyer attached", HOSTILE):
        assert subject in page, subject  # the hostile subject is text, not a tag

    visit.click("Rent strike meeting")
    page = visit.text()
    assert "We meet on Friday at the café." in page
    assert "I will bring the banner." in page
    assert "Bob Marsh" in page and "Cy Ode" in page
    visit.driver.find_elements(By.LINK_TEXT, "Re: Rent strike meeting")[0].click()
    visit.check()
    page = visit.text()
    assert "Friday works." in page
    assert "In reply to: Rent strike meeting" in page
    assert "Reply: Re: Rent strike meeting" in page
    mailto = visit.driver.find_element(By.LINK_TEXT, "Reply by mail").get_attribute("href")
    assert mailto is not None and mailto.startswith("mailto:") and "In-Reply-To" in mailto

    visit.click("team at lists.example.org")  # the crumb back to the list
    visit.click("From elsewhere")
    visit.click("From elsewhere")  # from the thread to its one post
    assert "Also sent to: coc at lists.nyc.example" in visit.text()

    visit.click("team at lists.example.org")
    visit.click("Flyer attached")
    visit.click("Flyer attached")
    page = visit.text()
    assert "flyer.pdf" in page and "application/pdf" in page
    assert "The flyer is attached." in page

    visit.click("team at lists.example.org")
    visit.click(HOSTILE)
    visit.click(HOSTILE)
    assert visit.driver.find_element(By.TAG_NAME, "h1").text == HOSTILE
    assert f"{HOSTILE}<img src=x onerror=alert(3)>" in visit.text()
    assert visit.driver.find_elements(By.CSS_SELECTOR, "main img") == []

    visit.click("team at lists.example.org")
    box = visit.driver.find_element(By.NAME, "q")
    box.send_keys("banner", Keys.ENTER)
    visit.check()
    page = visit.text()
    assert "Search team at lists.example.org" in page
    assert "Re: Rent strike meeting" in page and "banner" in page
    visit.click("Re: Rent strike meeting")
    assert "I will bring the banner." in visit.text()


@pytest.mark.parametrize("screen", [PHONE, DESKTOP], ids=lambda s: s.name)
async def test_a_reader_clicks_through_the_archive(
    tmp_path: Path, smarthost: RecordingSmarthost, browser: WebDriver, screen: Screen
) -> None:
    async with running_world(tmp_path, smarthost, web={"listen": "127.0.0.1:0"}) as world:
        await populate(world)
        assert world.node.web is not None
        visit = Visit(browser, f"http://127.0.0.1:{world.node.web.port}", screen)
        # The browser blocks; the node's loop (and its web child) run on meanwhile.
        await asyncio.to_thread(walk, visit)


async def test_the_page_policy_blocks_inline_script(
    tmp_path: Path, smarthost: RecordingSmarthost, browser: WebDriver
) -> None:
    async with running_world(tmp_path, smarthost, web={"listen": "127.0.0.1:0"}) as world:
        assert world.node.web is not None
        base = f"http://127.0.0.1:{world.node.web.port}"

        def inject() -> tuple[Any, list[dict[str, Any]]]:
            browser.get(base + "/")
            browser.get_log("browser")
            ran = browser.execute_script(
                "const s = document.createElement('script');"
                "s.textContent = 'window.ran = 1';"
                "document.body.appendChild(s);"
                "return window.ran === 1;"
            )
            return ran, browser.get_log("browser")

        ran, logged = await asyncio.to_thread(inject)
    assert ran is False
    assert any("Content Security Policy" in e["message"] for e in logged), logged


async def mailed(world: World, address: str, pattern: str) -> str:
    """The first match of `pattern` in mail the smarthost received for `address` (the web
    child writes the outbox; the node's delivery worker sends it), waiting a bounded time."""
    for _ in range(200):
        await world.idle()
        for message in to(world, address):
            found = re.search(pattern, str(message.get_content()))
            if found:
                return found.group(0)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no mail to {address} matching {pattern}")


async def test_a_member_signs_in_by_mail_and_a_visitor_joins_by_the_form(
    tmp_path: Path, smarthost: RecordingSmarthost, browser: WebDriver
) -> None:
    async with running_world(tmp_path, smarthost, web={"listen": "127.0.0.1:0"}) as world:
        world.make_list(BOARD, Policy.MEMBERS, people=["ann@example.org"], visibility="members")
        await world.send(
            mail("minutes@x", "Board minutes", "Quorum reached.\n"), BOARD, "ann@example.org"
        )
        await world.idle()
        assert world.node.web is not None
        base = f"http://127.0.0.1:{world.node.web.port}"
        visit = Visit(browser, base, PHONE)

        def ask_for_a_link() -> None:
            visit.open("/")
            assert "board at" not in visit.text()  # nobody signed in: no such list
            visit.click("Sign in")
            visit.driver.find_element(By.NAME, "email").send_keys("ann@example.org", Keys.ENTER)
            visit.check()
            assert "a link that signs you in is on its way" in visit.text()

        await asyncio.to_thread(ask_for_a_link)
        link = await mailed(world, "ann@example.org", r"http://127\.0\.0\.1:\d+/login/[\w-]+")

        def use_it() -> None:
            visit.open(link.removeprefix(base))
            visit.driver.find_element(By.TAG_NAME, "button").click()  # the sign-in button
            visit.check()
            visit.click("board at lists.example.org")
            visit.click("Board minutes")
            assert "Quorum reached." in visit.text()
            visit.driver.get(link)  # used: a page that says so (a 400, which the console
            assert "used already" in visit.text()  # notes, so no visit.check() here)
            visit.driver.get_log("browser")

            visit.open("/")  # a stranger on the same list's page joins with the form
            visit.click("board at lists.example.org")
            visit.driver.find_element(By.NAME, "email").send_keys("dave@example.com", Keys.ENTER)
            visit.check()
            assert "A message asking to confirm is on its way" in visit.text()

        await asyncio.to_thread(use_it)
        asked = r"asked to subscribe dave@example\.com to board@lists\.example\.org"
        await mailed(world, "dave@example.com", asked)
