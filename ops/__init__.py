"""Operations: the local service stack and bootstrap of topics and stores."""
