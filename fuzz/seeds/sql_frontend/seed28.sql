select
  *
from customers -- comment
where "department" = 'ünïcode' /* c */