// A checkbox marked data-select-all="<name>" ticks or clears every checkbox of that name in
// its form (the verification list's "select all"); kept out of the HTML for the CSP.
document.querySelectorAll("input[data-select-all]").forEach((all) => {
  const boxes = () => all.form.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`);
  all.addEventListener("change", () => {
    boxes().forEach((box) => {
      box.checked = all.checked;
    });
  });
});
