"""The class report (`genimg-grade report`): the records of a class (`class_data`),
similar submissions (`similarity`), and the page (`class_report`)."""
