{#- Generic data tests we need (no dbt packages here: the hub is unreachable). -#}

{# every row satisfies a SQL boolean expression #}
{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not coalesce(({{ expression }}), false)
{% endtest %}

{# no two rows share the same combination of columns #}
{% test unique_combination_of_columns(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}, count(*) as n
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{# a numeric column lies in [min_value, max_value] (NULLs pass; pair with not_null when needed) #}
{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
select *
from {{ model }}
where {{ column_name }} is not null and (
    false
    {% if min_value is not none %} or {{ column_name }} < {{ min_value }} {% endif %}
    {% if max_value is not none %} or {{ column_name }} > {{ max_value }} {% endif %}
    or isnan({{ column_name }}) or isinf({{ column_name }})
)
{% endtest %}
