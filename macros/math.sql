{# a / b, NULL when b is 0 or NULL (e.g. a return with no capital at the start of the day) #}
{% macro safe_divide(numerator, denominator) -%}
  case when ({{ denominator }}) is null or ({{ denominator }}) = 0 then null
       else ({{ numerator }}) / ({{ denominator }}) end
{%- endmacro %}

{# a fraction as a percentage rounded to 6 decimals: the unit every threshold compares in (SPEC §4) #}
{% macro pct6(fraction) -%}
  round(({{ fraction }}) * 100, 6)
{%- endmacro %}
