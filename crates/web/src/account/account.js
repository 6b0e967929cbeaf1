// The account page's enhancements; every form works without them.
// - Times are shown in the reader's own time zone.
// - A form's button is disabled while it is being sent, so a second click does not send it twice
//   (and enabled again when the page comes back from the back/forward cache).
// - The page's message takes the focus, so keyboard and screen-reader users start from it.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
  for (const time of document.querySelectorAll("time[datetime]")) {
    const at = new Date(time.getAttribute("datetime"));
    if (!Number.isNaN(at.getTime())) {
      time.title = time.textContent;
      time.textContent = format.format(at);
    }
  }
  for (const form of document.querySelectorAll("form")) {
    form.addEventListener("submit", () => {
      for (const button of form.querySelectorAll("button[type=submit]")) {
        button.disabled = true;
      }
    });
  }
  window.addEventListener("pageshow", () => {
    for (const button of document.querySelectorAll("button[type=submit]")) {
      button.disabled = false;
    }
  });
  const message = document.getElementById("message");
  if (message) {
    message.focus();
  }
});
