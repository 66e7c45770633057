-- The security state of the current schema as one canonical JSON document:
-- every policy with its comment, each table's RLS flags, comment, privileges and
-- column defaults, and every function's definition and comment. Installing
-- rls/ is kept only when this document changes.
select jsonb_build_object(
  'policies', (
    select coalesce(jsonb_agg(jsonb_build_object(
      'table', p.tablename, 'name', p.policyname, 'permissive', p.permissive,
      'roles', p.roles, 'cmd', p.cmd, 'using', p.qual, 'check', p.with_check,
      'comment', obj_description(pol.oid, 'pg_policy'))
      order by p.tablename, p.policyname), '[]')
    from pg_catalog.pg_policies p
    join pg_catalog.pg_class c on c.relname = p.tablename
    join pg_catalog.pg_namespace n on n.oid = c.relnamespace and n.nspname = p.schemaname
    join pg_catalog.pg_policy pol on pol.polrelid = c.oid and pol.polname = p.policyname
    where p.schemaname = current_schema()),
  'tables', (
    select coalesce(jsonb_agg(jsonb_build_object(
      'table', c.relname, 'enabled', c.relrowsecurity, 'forced', c.relforcerowsecurity,
      'comment', obj_description(c.oid, 'pg_class'),
      'acl', (select coalesce(jsonb_agg(a::text order by a::text), '[]') from unnest(c.relacl) a),
      'columns', (
        select coalesce(jsonb_agg(jsonb_build_object(
          'name', att.attname,
          'acl', (select coalesce(jsonb_agg(a::text order by a::text), '[]') from unnest(att.attacl) a),
          'default', pg_get_expr(d.adbin, d.adrelid)) order by att.attnum), '[]')
        from pg_catalog.pg_attribute att
        left join pg_catalog.pg_attrdef d on d.adrelid = att.attrelid and d.adnum = att.attnum
        where att.attrelid = c.oid and att.attnum > 0 and not att.attisdropped))
      order by c.relname), '[]')
    from pg_catalog.pg_class c
    where c.relnamespace = current_schema()::regnamespace and c.relkind in ('r', 'p')),
  'functions', (
    select coalesce(jsonb_agg(jsonb_build_object(
      'signature', f.oid::regprocedure::text, 'definition', pg_get_functiondef(f.oid),
      'acl', (select coalesce(jsonb_agg(a::text order by a::text), '[]') from unnest(f.proacl) a),
      'comment', obj_description(f.oid, 'pg_proc'))
      order by f.oid::regprocedure::text), '[]')
    from pg_catalog.pg_proc f
    where f.pronamespace = current_schema()::regnamespace),
  'schema_acl', (
    select coalesce(jsonb_agg(a::text order by a::text), '[]')
    from pg_catalog.pg_namespace n, unnest(n.nspacl) a
    where n.nspname = current_schema())
)::text
