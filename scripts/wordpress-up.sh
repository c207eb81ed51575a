#!/usr/bin/env bash
# wordpress-up.sh - a real WordPress (Debian 12 package) on loopback, the publisher's test and
# benchmark target (`make test` and `make bench` run it). Idempotent: installs what is missing,
# starts MariaDB and a private Apache instance if they are not running, creates the database,
# site, admin user and application password if missing, and checks REST auth end to end.
#
# Needs root, no systemd. Everything is bound to 127.0.0.1 only.
# Progress goes to stderr; the LAST line on stdout is:
#   WORDPRESS_URL=http://127.0.0.1:8081 WORDPRESS_USER=... WORDPRESS_APP_PASSWORD=...
# so:  eval "$(sudo ./wordpress-up.sh | tail -n1)"   or   export $(./wordpress-up.sh | tail -n1)
#
# Tunables (env): WP_PORT (8081), WP_ADMIN_USER (publisher), WP_ADMIN_EMAIL,
#                 WP_DB_NAME (wp_test), WP_DB_USER (wp_test), WP_APP_NAME
# Stop:  apache2 -f /var/lib/wp-test/httpd.conf -k stop ;
#        start-stop-daemon --stop --pidfile /run/mysqld/mysqld.pid --exec /usr/sbin/mariadbd --retry 30
set -euo pipefail

WP_PORT="${WP_PORT:-8081}"
WP_BIND=127.0.0.1
WP_URL="http://${WP_BIND}:${WP_PORT}"
WP_TITLE="${WP_TITLE:-Local News Test Site}"
WP_ADMIN_USER="${WP_ADMIN_USER:-publisher}"
WP_ADMIN_EMAIL="${WP_ADMIN_EMAIL:-publisher@example.com}"
WP_APP_NAME="${WP_APP_NAME:-news-publisher-tests}"
DB_NAME="${WP_DB_NAME:-wp_test}"
DB_USER="${WP_DB_USER:-wp_test}"

WP_ROOT=/usr/share/wordpress
WP_CONTENT=/var/lib/wordpress/wp-content
STATE_DIR=/var/lib/wp-test            # credentials + generated config/helper scripts
STATE_FILE="$STATE_DIR/credentials.env"
LOG_DIR=/var/log/wp-test
RUN_DIR=/run/wp-test
HTTPD_CONF="$STATE_DIR/httpd.conf"
HTTPD_PID="$RUN_DIR/httpd.pid"
WP_CONFIG="/etc/wordpress/config-${WP_BIND}.php"   # Debian wp-config.php picks config-<Host header w/o port>.php

PKGS=(wordpress wordpress-theme-twentytwentythree apache2 libapache2-mod-php php-cli php-mysql php-gd
      mariadb-server mariadb-client curl ca-certificates)

log()  { printf '[wordpress-up %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die()  { log "ERROR: $*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root"
case "$WP_PORT" in ''|*[!0-9]*) die "WP_PORT must be numeric";; esac

# ---------------------------------------------------------------- 1. packages
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # policy-rc.d in containers denies service start during install: fine, we start things ourselves
  apt-get update -q >&2
  apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
else
  log "packages already installed"
fi

# ---------------------------------------------------------------- 2. secrets (generated once)
rand() { tr -dc 'A-Za-z0-9' </dev/urandom | head -c "$1" || true; }
install -d -m 755 "$STATE_DIR"   # credentials.env itself is 0600
install -d -m 755 "$LOG_DIR" "$RUN_DIR"
[ -f "$LOG_DIR/php-error.log" ] || install -m 644 -o www-data -g www-data /dev/null "$LOG_DIR/php-error.log"
DB_PASSWORD='' ADMIN_PASSWORD='' SALT_SEED='' APP_PASSWORD=''
# shellcheck disable=SC1090
[ -f "$STATE_FILE" ] && . "$STATE_FILE"
[ -n "$DB_PASSWORD" ]    || DB_PASSWORD="$(rand 24)"
[ -n "$ADMIN_PASSWORD" ] || ADMIN_PASSWORD="$(rand 20)"
[ -n "$SALT_SEED" ]      || SALT_SEED="$(rand 64)"
save_state() (   # subshell: keep the umask local
  umask 077
  cat >"$STATE_FILE.tmp" <<EOF
DB_PASSWORD='$DB_PASSWORD'
ADMIN_PASSWORD='$ADMIN_PASSWORD'
SALT_SEED='$SALT_SEED'
APP_PASSWORD='$APP_PASSWORD'
EOF
  mv -f "$STATE_FILE.tmp" "$STATE_FILE"
)
save_state

# ---------------------------------------------------------------- 3. MariaDB
if mariadb-admin --silent ping >/dev/null 2>&1; then
  log "MariaDB already running"
else
  log "starting MariaDB"
  install -d -o mysql -g root -m 755 /run/mysqld
  install -d -o mysql -g adm -m 2750 /var/log/mysql
  [ -d /var/lib/mysql/mysql ] || mariadb-install-db --user=mysql --datadir=/var/lib/mysql >&2
  start-stop-daemon --start --background --oknodo --pidfile /run/mysqld/mysqld.pid \
    --exec /usr/sbin/mariadbd -- --user=mysql --log-error=/var/log/mysql/error.log
  for _ in $(seq 1 120); do mariadb-admin --silent ping >/dev/null 2>&1 && break; sleep 0.25; done
  mariadb-admin --silent ping >/dev/null 2>&1 || { tail -n 20 /var/log/mysql/error.log >&2; die "MariaDB did not start"; }
  log "MariaDB up (pid $(cat /run/mysqld/mysqld.pid))"
fi
# root@localhost uses unix_socket auth on Debian -> no password needed as root.
# ALTER USER every run keeps the DB password in sync with the state file.
mariadb <<SQL
CREATE DATABASE IF NOT EXISTS \`$DB_NAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE USER IF NOT EXISTS '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
ALTER USER '$DB_USER'@'localhost' IDENTIFIED BY '$DB_PASSWORD';
GRANT ALL PRIVILEGES ON \`$DB_NAME\`.* TO '$DB_USER'@'localhost';
FLUSH PRIVILEGES;
SQL

# ---------------------------------------------------------------- 4. WordPress config
# write_if_changed <dest> <mode> <owner:group>  (content on stdin); returns 0 if file changed
write_if_changed() {
  local dest=$1 mode=$2 owner=$3 tmp
  tmp="$(mktemp "$dest.XXXXXX")"
  cat >"$tmp"; chmod "$mode" "$tmp"; chown "$owner" "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest"; then rm -f "$tmp"; return 1; fi
  mv -f "$tmp" "$dest"; return 0
}
install -d -m 755 /etc/wordpress
write_if_changed "$WP_CONFIG" 640 root:www-data <<PHP && log "wrote $WP_CONFIG" || true
<?php
// Generated by wordpress-up.sh - local REST API test target. Do not use in production.
define('DB_NAME', '$DB_NAME');
define('DB_USER', '$DB_USER');
define('DB_PASSWORD', '$DB_PASSWORD');
define('DB_HOST', 'localhost');          // unix socket /run/mysqld/mysqld.sock
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
define('WP_HOME', '$WP_URL');
define('WP_SITEURL', '$WP_URL');
// Application Passwords need HTTPS unless the environment type is 'local'.
define('WP_ENVIRONMENT_TYPE', 'local');
define('WP_CONTENT_DIR', '$WP_CONTENT');
// Offline box: never wait on api.wordpress.org (loopback requests to this site stay allowed).
define('WP_HTTP_BLOCK_EXTERNAL', true);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_DEBUG', false);
foreach (array('AUTH_KEY','SECURE_AUTH_KEY','LOGGED_IN_KEY','NONCE_KEY',
               'AUTH_SALT','SECURE_AUTH_SALT','LOGGED_IN_SALT','NONCE_SALT') as \$k) {
    define(\$k, hash('sha256', '$SALT_SEED' . \$k));
}
\$table_prefix = 'wp_';
PHP
# Same site when reached as http://localhost:PORT (host header "localhost")
ln -sfn "$WP_CONFIG" /etc/wordpress/config-localhost.php

# ---------------------------------------------------------------- 5. Apache (private instance)
PHP_SO="$(ls /usr/lib/apache2/modules/libphp*.so 2>/dev/null | head -n1)"
[ -n "$PHP_SO" ] || die "libapache2-mod-php not found"
M=/usr/lib/apache2/modules
httpd_changed=0
write_if_changed "$HTTPD_CONF" 644 root:root <<CONF && httpd_changed=1 || true
# Generated by wordpress-up.sh: standalone Apache serving only WordPress on $WP_BIND:$WP_PORT.
# Independent of /etc/apache2 (does not bind :80, does not touch the system apache2).
ServerRoot /etc/apache2
ServerName $WP_BIND
Listen $WP_BIND:$WP_PORT
PidFile $HTTPD_PID
DefaultRuntimeDir $RUN_DIR
Mutex file:$RUN_DIR default
User www-data
Group www-data
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
LoadModule authz_core_module  $M/mod_authz_core.so
LoadModule dir_module         $M/mod_dir.so
LoadModule mime_module        $M/mod_mime.so
LoadModule alias_module       $M/mod_alias.so
LoadModule rewrite_module     $M/mod_rewrite.so
LoadModule php_module         $PHP_SO
StartServers 2
MinSpareServers 2
MaxSpareServers 6
MaxRequestWorkers 32
Timeout 60
KeepAlive On
TypesConfig /etc/mime.types
AddDefaultCharset Off
LogFormat "%h %l %u %t \"%r\" %>s %b %D" timed
ErrorLog $LOG_DIR/apache-error.log
CustomLog $LOG_DIR/access.log timed
LogLevel warn
php_admin_value upload_max_filesize 32M
php_admin_value post_max_size 64M
php_admin_value memory_limit 256M
php_admin_value error_log $LOG_DIR/php-error.log
php_admin_flag display_errors off
php_admin_flag log_errors on
DocumentRoot $WP_ROOT
DirectoryIndex index.php index.html
Alias /wp-content $WP_CONTENT
<Directory />
    Options None
    AllowOverride None
    Require all denied
</Directory>
<Directory $WP_ROOT>
    Options FollowSymLinks
    AllowOverride None
    Require all granted
    # WordPress pretty permalinks (/wp-json/... and /%postname%/) without .htaccess
    RewriteEngine On
    RewriteBase /
    RewriteRule ^index\.php$ - [L]
    RewriteCond %{REQUEST_FILENAME} !-f
    RewriteCond %{REQUEST_FILENAME} !-d
    RewriteRule . /index.php [L]
</Directory>
<Directory $WP_CONTENT>
    Options FollowSymLinks
    AllowOverride None
    Require all granted
</Directory>
<FilesMatch ".+\.ph(?:ar|p|tml)$">
    SetHandler application/x-httpd-php
</FilesMatch>
<FilesMatch "^\.ht">
    Require all denied
</FilesMatch>
CONF
apache2 -t -f "$HTTPD_CONF" >/dev/null 2>&1 || { apache2 -t -f "$HTTPD_CONF" >&2 || true; die "bad $HTTPD_CONF"; }

httpd_running() {
  local pid
  [ -s "$HTTPD_PID" ] || return 1
  pid="$(cat "$HTTPD_PID")"
  kill -0 "$pid" 2>/dev/null && grep -q apache2 "/proc/$pid/comm" 2>/dev/null
}
if httpd_running; then
  if [ "$httpd_changed" = 1 ]; then
    log "config changed: graceful restart of Apache (pid $(cat "$HTTPD_PID"))"
    apache2 -f "$HTTPD_CONF" -k graceful
    sleep 1
  else
    log "Apache already running (pid $(cat "$HTTPD_PID"))"
  fi
else
  if ss -ltnH "sport = :$WP_PORT" 2>/dev/null | grep -q .; then
    ss -ltnpH "sport = :$WP_PORT" >&2 || true
    die "port $WP_PORT is used by another process (set WP_PORT=...)"
  fi
  log "starting Apache on $WP_URL"
  rm -f "$HTTPD_PID"
  apache2 -f "$HTTPD_CONF" -k start
fi
for _ in $(seq 1 60); do
  curl -s -o /dev/null --max-time 5 "$WP_URL/wp-login.php" && break; sleep 0.25
done
httpd_running || { tail -n 20 "$LOG_DIR/apache-error.log" >&2; die "Apache did not start"; }

# ---------------------------------------------------------------- 6. WordPress install + user + app password
# Helper PHP scripts run with php-cli as www-data; they fake the Host header so that
# Debian's wp-config.php loads $WP_CONFIG.
write_if_changed "$STATE_DIR/wp-install.php" 644 root:root <<'PHP' || true
<?php
// Phase 1: wp_install() if the blog is not installed yet.
$_SERVER['HTTP_HOST'] = getenv('WPT_HOST');
$_SERVER['SERVER_NAME'] = preg_replace('/:.*/', '', getenv('WPT_HOST'));
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
define('WP_INSTALLING', true);
require '/usr/share/wordpress/wp-load.php';
function wp_new_blog_notification() { /* no MTA here: skip the welcome mail */ }
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
if (is_blog_installed()) { fwrite(STDERR, "WordPress already installed\n"); exit(0); }
$r = wp_install(getenv('WPT_TITLE'), getenv('WPT_USER'), getenv('WPT_EMAIL'), false, '', getenv('WPT_PASS'));
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message() . "\n"); exit(1); }
fwrite(STDERR, "WordPress installed, admin user id {$r['user_id']}\n");
PHP
write_if_changed "$STATE_DIR/wp-setup.php" 644 root:root <<'PHP' || true
<?php
// Phase 2 (every run): admin user, permalinks, application password. Prints WPT_APP_PASSWORD=...
$_SERVER['HTTP_HOST'] = getenv('WPT_HOST');
$_SERVER['SERVER_NAME'] = preg_replace('/:.*/', '', getenv('WPT_HOST'));
$_SERVER['REQUEST_URI'] = '/';
$_SERVER['REQUEST_METHOD'] = 'GET';
require '/usr/share/wordpress/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/user.php';
$login = getenv('WPT_USER'); $pass = getenv('WPT_PASS'); $app = getenv('WPT_APP_NAME');
$user = get_user_by('login', $login);
if (!$user) {
    $id = wp_insert_user(array('user_login' => $login, 'user_pass' => $pass,
        'user_email' => getenv('WPT_EMAIL'), 'role' => 'administrator'));
    if (is_wp_error($id)) { fwrite(STDERR, $id->get_error_message() . "\n"); exit(1); }
    $user = get_user_by('id', $id);
    fwrite(STDERR, "created user $login\n");
}
if (!in_array('administrator', (array) $user->roles, true)) { $user->set_role('administrator'); }
if (!wp_check_password($pass, $user->user_pass)) { wp_set_password($pass, $user->ID); }
if (get_option('permalink_structure') !== '/%postname%/') {
    global $wp_rewrite;
    $wp_rewrite->set_permalink_structure('/%postname%/');
    flush_rewrite_rules(false);              // soft flush: no .htaccess (rules live in httpd.conf)
    fwrite(STDERR, "permalinks set to /%postname%/\n");
}
if (!wp_is_application_passwords_available_for_user($user)) {
    fwrite(STDERR, "Application Passwords unavailable (need HTTPS or WP_ENVIRONMENT_TYPE=local)\n"); exit(2);
}
$want = preg_replace('/[^a-z\d]/i', '', (string) getenv('WPT_APP_PASSWORD'));
foreach (WP_Application_Passwords::get_user_application_passwords($user->ID) as $item) {
    if ($item['name'] !== $app) continue;
    if ($want !== '' && wp_check_password($want, $item['password'])) { echo "WPT_APP_PASSWORD=$want\n"; exit(0); }
    WP_Application_Passwords::delete_application_password($user->ID, $item['uuid']);   // stale: replace it
}
$r = WP_Application_Passwords::create_new_application_password($user->ID, array('name' => $app));
if (is_wp_error($r)) { fwrite(STDERR, $r->get_error_message() . "\n"); exit(1); }
fwrite(STDERR, "created application password '$app' uuid {$r[1]['uuid']}\n");
echo "WPT_APP_PASSWORD={$r[0]}\n";
PHP

wp_php() {  # run a helper as www-data with the needed env
  runuser -u www-data -- env WPT_HOST="$WP_BIND:$WP_PORT" WPT_TITLE="$WP_TITLE" WPT_USER="$WP_ADMIN_USER" \
    WPT_EMAIL="$WP_ADMIN_EMAIL" WPT_PASS="$ADMIN_PASSWORD" WPT_APP_NAME="$WP_APP_NAME" \
    WPT_APP_PASSWORD="$APP_PASSWORD" php -d display_errors=stderr -d error_reporting=E_ALL\&~E_DEPRECATED "$@"
}
wp_php "$STATE_DIR/wp-install.php" 2> >(sed 's/^/  php: /' >&2)
out="$(wp_php "$STATE_DIR/wp-setup.php" 2> >(sed 's/^/  php: /' >&2))"
new_app="$(printf '%s\n' "$out" | sed -n 's/^WPT_APP_PASSWORD=//p' | tail -n1)"
[ -n "$new_app" ] || die "could not obtain an application password"
APP_PASSWORD="$new_app"
save_state

# ---------------------------------------------------------------- 7. end-to-end REST check
code="$(curl -s -o "$RUN_DIR/me.json" -w '%{http_code}' --max-time 20 \
        -u "$WP_ADMIN_USER:$APP_PASSWORD" "$WP_URL/wp-json/wp/v2/users/me?context=edit")"
[ "$code" = 200 ] || { cat "$RUN_DIR/me.json" >&2; echo >&2; die "REST auth check failed (HTTP $code)"; }
code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 \
        -u "$WP_ADMIN_USER:$APP_PASSWORD" "$WP_URL/?rest_route=/wp/v2/users/me")"
[ "$code" = 200 ] || die "?rest_route= check failed (HTTP $code)"
log "REST API OK: $WP_URL/wp-json/ (and ?rest_route=) authenticated as $WP_ADMIN_USER; wp-admin password in $STATE_FILE"

echo "WORDPRESS_URL=$WP_URL WORDPRESS_USER=$WP_ADMIN_USER WORDPRESS_APP_PASSWORD=$APP_PASSWORD"
