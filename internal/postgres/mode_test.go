package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestChooseExecMode(t *testing.T) {
	cases := []struct {
		url  string
		want pgx.QueryExecMode
	}{
		{"postgres://u@db.example.com/app", pgx.QueryExecModeCacheStatement},
		{"postgres://u@ep-cool-123-pooler.us-east-2.aws.neon.tech/app?sslmode=require", pgx.QueryExecModeCacheDescribe},
		{"postgres://u@127.0.0.1:6432/app", pgx.QueryExecModeCacheDescribe},
		{"postgres://u@127.0.0.1:6432/app?default_query_exec_mode=cache_statement", pgx.QueryExecModeCacheStatement},
		{"postgres://u@db/app?default_query_exec_mode=exec", pgx.QueryExecModeExec},
		{"host=db.example.com dbname=app default_query_exec_mode = cache_describe", pgx.QueryExecModeCacheDescribe},
		{"postgres://u:default_query_exec_mode=x@ep-a-pooler.eu-central-1.aws.neon.tech/app", pgx.QueryExecModeCacheDescribe},
		{"postgres://u@aws-0-eu-central-1.pooler.supabase.com:6543/postgres", pgx.QueryExecModeCacheDescribe},
		{"postgres://u@db1:5432,db2:6432/app", pgx.QueryExecModeCacheDescribe},
	}
	for _, tc := range cases {
		cfg, err := pgx.ParseConfig(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := chooseExecMode(tc.url, cfg); got != tc.want {
			t.Errorf("%s: mode %v, want %v", tc.url, got, tc.want)
		}
	}
}
