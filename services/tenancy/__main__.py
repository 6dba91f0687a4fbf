from services.tenancy.bootstrap import definition
from shared.service_main import main

main("tenancy", definition)
