// Behaviour of every page, kept out of the HTML so the Content-Security-Policy allows no
// inline script: a select marked data-submit-on-change sends its form when changed.
document.querySelectorAll("select[data-submit-on-change]").forEach((select) => {
  select.addEventListener("change", () => select.form.submit());
});
