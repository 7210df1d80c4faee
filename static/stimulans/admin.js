// Names for the Django admin's script-made widgets, which its own scripts leave unnamed
// (WCAG 4.1.2): the autocomplete boxes (select2), the filter boxes' search icons and the
// date and time inputs of a date-time field. Run just after the load event, once Django's
// own scripts (its load handlers, jQuery's ready handlers) have built those widgets.
function nameAdminWidgets() {
  for (const select of document.querySelectorAll("select.admin-autocomplete")) {
    const label = document.querySelector(`label[for="${select.id}"]`);
    const box = select.parentElement.querySelector(".select2-selection");
    const shown = box && box.querySelector(".select2-selection__rendered");
    if (!label || !box || !shown) continue;
    label.id = label.id || `${select.id}-label`;
    box.setAttribute("aria-labelledby", `${label.id} ${shown.id}`);
    shown.setAttribute("aria-labelledby", label.id);
  }
  // An icon named by aria-label must say it is an image to carry that name.
  for (const icon of document.querySelectorAll("span.help-tooltip[aria-label]")) {
    icon.setAttribute("role", "img");
  }
  for (const datetime of document.querySelectorAll("p.datetime")) {
    const row = datetime.closest(".form-row, .fieldBox, div");
    const label = row && row.querySelector("label");
    const parts = datetime.querySelectorAll("input");
    const names = datetime.textContent.split(/\s*\n\s*/).filter((t) => t.trim());
    parts.forEach((input, i) => {
      if (!input.labels.length && !input.hasAttribute("aria-label")) {
        const part = (names[i] || "").replace(/:$/, "");
        input.setAttribute("aria-label", `${label ? label.textContent.replace(/:$/, "") : ""} ${part}`.trim());
      }
    });
  }
}
window.addEventListener("load", () => setTimeout(nameAdminWidgets, 0));
