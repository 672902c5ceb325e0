/* The periodic task form (templates/admin/djcelery/change_periodictask_form.html): the chosen
   crontab's schedule in words under the field, as django-celery-beat's inline script did, but
   written as text so nothing in it is read as markup. */
(function () {
  "use strict";
  var source = document.getElementById("readable-crontabs");
  var field = document.querySelector(".field-crontab");
  if (!source || !field) return;
  var readable = JSON.parse(source.textContent);
  var help = field.querySelector(".help");
  var original = help ? help.textContent.trim() : "";
  var translation = document.querySelector(".field-crontab_translation");
  if (translation) translation.style.display = "none";

  field.addEventListener("change", function () {
    var select = document.getElementById("id_crontab");
    if (!help || !select) return;
    help.textContent = "";
    help.appendChild(document.createTextNode(original));
    help.appendChild(document.createElement("br"));
    help.appendChild(document.createTextNode("Translation: " + (readable[select.value] || "")));
  });
})();
