//! The account page in headless Chromium: the whole flow, two devices, idle
//! expiry, keyboard use, the page without JavaScript, and axe-core scans.

use sesame_browser::{Browser, Driver, PASSWORD, devices, start_service};

const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

async fn sign_up(browser: &Browser, base: &str, email: &str) {
    browser.open(&format!("{base}/account")).await;
    browser.fill("#sign-up-email", email).await;
    browser.fill("#sign-up-password", PASSWORD).await;
    browser.press("form[action='/account/register'] button", "Your account is ready").await;
}

async fn sign_in(browser: &Browser, base: &str, email: &str, password: &str) {
    browser.open(&format!("{base}/account")).await;
    browser.fill("#sign-in-email", email).await;
    browser.fill("#sign-in-password", password).await;
    browser.press("form[action='/account/login'] button", "You are signed in.").await;
}

fn assert_accessible(page: &str, violations: &[String]) {
    assert!(
        violations.is_empty(),
        "axe-core found serious or critical violations on {page}:\n{}",
        violations.join("\n")
    );
}

#[tokio::test]
async fn the_whole_flow_sign_up_change_password_sign_out_sign_in_delete() {
    let base = start_service(&[]).await;
    let driver = Driver::start().await;
    let browser = driver.browser(devices::LAPTOP).await;

    browser.open(&format!("{base}/account")).await;
    assert_accessible("the sign-in page", &browser.accessibility_violations().await);
    browser.screenshot("sign-in", true).await;

    // A common password: refused, with the reason next to the field.
    browser.fill("#sign-up-email", "ada@example.com").await;
    browser.fill("#sign-up-password", "password123").await;
    browser.press("form[action='/account/register'] button", "Some fields need another look").await;
    let reason = browser.text("#sign-up-password-error").await.expect("the field's error");
    assert!(reason.contains("common"), "{reason}");
    assert_eq!(browser.find("#sign-up-email").await.prop("value").await.unwrap().as_deref(), Some("ada@example.com"));
    assert_accessible("a refused sign-up", &browser.accessibility_violations().await);
    browser.screenshot("sign-up-refused", true).await;

    browser.fill("#sign-up-password", PASSWORD).await;
    browser.press("form[action='/account/register'] button", "Your account is ready").await;
    assert_eq!(browser.text("#account-email").await.as_deref(), Some("ada@example.com"));
    assert_eq!(browser.text(".session.current h3").await.as_deref(), Some("Chrome on Windows"));
    assert_eq!(browser.text(".session.current .badge").await.as_deref(), Some("This device"));
    // The script ran under the CSP: times are in the reader's own format, the UTC one kept as a title.
    let title = browser.find(".session.current time").await.attr("title").await.unwrap();
    assert!(title.is_some_and(|title| title.ends_with("UTC")), "account.js localised the times");
    assert_accessible("the account page", &browser.accessibility_violations().await);
    browser.screenshot("account", false).await;

    browser.fill("#password-current-password", "not the password").await;
    browser.fill("#password-new-password", "a brand new passphrase").await;
    browser.press("form[action='/account/password'] button", "That is not your current password").await;
    browser.screenshot("password-refused", false).await;
    browser.fill("#password-current-password", PASSWORD).await;
    browser.fill("#password-new-password", "a brand new passphrase").await;
    browser.press("form[action='/account/password'] button", "Your password is changed").await;

    browser.press("form[action='/account/logout'] button", "You are signed out.").await;
    assert!(browser.url().await.ends_with("/account"), "the notice is not in the address");
    browser.open(&format!("{base}/account")).await;
    assert_eq!(browser.text("#message").await, None, "a reload does not bring the notice back");
    sign_in(&browser, &base, "ada@example.com", "a brand new passphrase").await;

    browser.fill("#delete-password", "a brand new passphrase").await;
    browser.press("form[action='/account/delete'] button", "Your account is deleted.").await;
    browser.screenshot("deleted", false).await;
    browser.open(&format!("{base}/account")).await;
    browser.fill("#sign-in-email", "ada@example.com").await;
    browser.fill("#sign-in-password", "a brand new passphrase").await;
    browser.press("form[action='/account/login'] button", "The email address or password is not right.").await;
    browser.close().await;
}

#[tokio::test]
async fn device_a_signs_device_b_out_and_b_is_sent_to_sign_in_at_its_next_click() {
    let base = start_service(&[]).await;
    let driver = Driver::start().await;
    let laptop = driver.browser(devices::LAPTOP).await;
    let phone = driver.browser(devices::PHONE).await;
    sign_up(&laptop, &base, "grace@example.com").await;
    sign_in(&phone, &base, "grace@example.com", PASSWORD).await;
    assert_eq!(phone.text(".session.current h3").await.as_deref(), Some("Safari on iPhone"));
    assert_accessible("the account page on a narrow screen", &phone.accessibility_violations().await);
    phone.screenshot("sessions-phone", true).await;

    laptop.open(&format!("{base}/account")).await;
    let devices: Vec<String> = {
        let mut names = Vec::new();
        for heading in laptop.all(".session h3").await {
            names.push(heading.text().await.unwrap());
        }
        names
    };
    assert_eq!(devices, ["Chrome on Windows", "Safari on iPhone"]);
    assert_accessible("the account page with two devices", &laptop.accessibility_violations().await);
    laptop.screenshot("sessions", true).await;

    laptop.press(".session:not(.current) form button", "That device is signed out.").await;
    assert_eq!(laptop.all(".session").await.len(), 1);

    // The phone still shows its page; its next click finds its session gone.
    phone.press("form[action='/account/logout-all'] button", "Your session has ended").await;
    assert!(phone.url().await.ends_with("/account"));
    assert!(phone.text("#sign-in-heading").await.is_some(), "the phone is asked to sign in");
    assert_accessible("the session-ended page", &phone.accessibility_violations().await);
    phone.screenshot("session-ended", true).await;

    laptop.open(&format!("{base}/account")).await;
    assert_eq!(laptop.text(".session.current h3").await.as_deref(), Some("Chrome on Windows"), "A stays signed in");
    laptop.close().await;
    phone.close().await;
}

#[tokio::test]
async fn an_idle_session_ends_and_the_next_visit_asks_to_sign_in() {
    let base =
        start_service(&[("SESAME__SESSION__MAX_AGE_SECONDS", "2"), ("SESAME__SESSION__TOUCH_INTERVAL_SECONDS", "1")])
            .await;
    let driver = Driver::start().await;
    let browser = driver.browser(devices::LAPTOP).await;
    sign_up(&browser, &base, "idle@example.com").await;
    tokio::time::sleep(std::time::Duration::from_millis(3_500)).await;
    browser.open(&format!("{base}/account")).await;
    browser.wait_for_message("Your session has ended").await;
    assert!(browser.text("#sign-in-heading").await.is_some());
    browser.close().await;
}

#[tokio::test]
async fn the_sign_in_form_is_used_with_the_keyboard_alone_in_reading_order() {
    let base = start_service(&[]).await;
    let driver = Driver::start().await;
    let browser = driver.browser(devices::LAPTOP).await;
    sign_up(&browser, &base, "keys@example.com").await;
    browser.press("form[action='/account/logout'] button", "You are signed out.").await;

    browser.open(&format!("{base}/account")).await;
    browser.script("document.activeElement.blur()").await;
    browser.keys(TAB).await;
    assert_eq!(browser.focused_id().await, "sign-in-email", "the first stop is the sign-in email");
    browser.keys("keys@example.com").await;
    browser.keys(TAB).await;
    assert_eq!(browser.focused_id().await, "sign-in-password");
    browser.keys(PASSWORD).await;
    browser.keys(ENTER).await;
    browser.wait_for_message("You are signed in.").await;
    assert_eq!(browser.focused_id().await, "message", "the message takes the focus");
    browser.close().await;
}

#[tokio::test]
async fn every_form_works_without_javascript() {
    let base = start_service(&[]).await;
    let driver = Driver::start().await;
    let browser = driver.browser_without_script(devices::LAPTOP).await;
    sign_up(&browser, &base, "noscript@example.com").await;
    let time = browser.find(".session.current time").await;
    assert!(time.text().await.unwrap().ends_with("UTC"), "no script ran: the server's own format");
    browser.fill("#password-current-password", PASSWORD).await;
    browser.fill("#password-new-password", "another fine passphrase").await;
    browser.press("form[action='/account/password'] button", "Your password is changed").await;
    browser.press("form[action='/account/logout-all'] button", "You are signed out on every device.").await;
    sign_in(&browser, &base, "noscript@example.com", "another fine passphrase").await;
    browser.fill("#delete-password", "another fine passphrase").await;
    browser.press("form[action='/account/delete'] button", "Your account is deleted.").await;
    browser.close().await;
}

/// The scan can fail: an input without a label is a critical violation.
#[tokio::test]
async fn the_accessibility_scan_finds_a_violation_when_there_is_one() {
    let base = start_service(&[]).await;
    let driver = Driver::start().await;
    let browser = driver.browser(devices::LAPTOP).await;
    browser.open(&format!("{base}/account")).await;
    browser
        .script("document.querySelector('main').insertAdjacentHTML('beforeend', '<input id=\\'unlabelled\\'>')")
        .await;
    let violations = browser.accessibility_violations().await;
    assert!(violations.iter().any(|v| v.starts_with("label (critical)")), "{violations:?}");
    browser.close().await;
}
