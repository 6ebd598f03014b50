"""The documents people sign and file: DOCX reports, XLSX results and sheets, print views.

- ``data``: what a unit's report shows, read through the one sheet loader;
- ``results``: a cycle's results per group (areas, total, rank with ties, class, quota note);
- ``analysis``: after publication, the criteria that lost points against last year;
- ``sheet_xlsx``: a unit's sheet as an XLSX to fill in offline, and reading it back;
- ``documents``: DOCX from the docxtpl templates in ``templates/`` (built by
  ``templates/build.py``, editable in Word); ``workbook``: XLSX; ``pdf``: LibreOffice;
- ``printview``: the print-friendly HTML pages (A4 CSS).
"""
