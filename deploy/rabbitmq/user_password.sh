# Sourced by department_users.sh and service_users.sh: create or update one broker user.
#
#   ensure_user USER PASSWORD_VARIABLE
#
# The password is the value of PASSWORD_VARIABLE (e.g. DEPT_PASSWORD_TAX) or, when unset, a
# random one printed once. An existing user gets the given password, or keeps its own when none
# is given. Needs RABBITMQCTL.
ensure_user() {
  local user="$1" var="$2" password generated=""
  password="${!var:-}"
  if [ -z "$password" ]; then
    password="$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)"
    generated=1
  fi
  # add_user first: one rabbitmqctl call fewer for new users (each call starts an Erlang VM).
  if "$RABBITMQCTL" -q add_user "$user" "$password" >/dev/null 2>&1; then
    if [ -n "$generated" ]; then
      echo "created $user with password $password"
    else
      echo "created $user"
    fi
  elif [ -z "$generated" ]; then
    "$RABBITMQCTL" -q change_password "$user" "$password"
    echo "updated password of $user"
  else
    echo "$user exists; password unchanged"
  fi
}
