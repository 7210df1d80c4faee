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
