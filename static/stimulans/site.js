// Behaviour of every page, kept out of the HTML so the Content-Security-Policy allows no
// inline script: a select marked data-submit-on-change sends its form when changed.
document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});

// A checkbox marked data-select-all="name" ticks or unticks every checkbox of that name,
// the rows of a list that a bulk action works on.
document.querySelectorAll("input[data-select-all]").forEach((all) => {
  const boxes = () =>
    document.querySelectorAll(`input[type="checkbox"][name="${all.dataset.selectAll}"]`);
  all.addEventListener("change", () => {
    boxes().forEach((box) => {
      box.checked = all.checked;
    });
  });
});

// A form sent back with errors starts at its error summary: focus moves there, so the page does
// not open at the top with the errors far below, and a screen reader reads the list. Each link
// of the summary takes focus to its field (a link to an id only scrolls), with the field's label
// in view.
const errorSummary = document.querySelector("[data-error-summary]");
if (errorSummary) {
  errorSummary.focus();
  errorSummary.querySelectorAll("a[href^='#']").forEach((link) => {
    link.addEventListener("click", (event) => {
      const target = document.getElementById(link.getAttribute("href").slice(1));
      if (!target) return;
      event.preventDefault();
      const label = target.labels && target.labels[0];
      const legend = target.closest("fieldset")?.querySelector("legend");
      (label || legend || target).scrollIntoView({ block: "start" });
      target.focus({ preventScroll: true });
    });
  });
}
