from tests.browser.conftest import browser  # noqa: F401  (the Playwright fixture, for the big screen)
